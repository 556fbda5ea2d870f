/*
 * vsb-test-util.h: what the data-driven C tests share.
 */
#pragma once

#include <glib.h>

/* tests/NAME: from abs_top_srcdir (set by `make check`), or, when a
 * test is run by hand, next to this file. */
static inline char *
vsb_test_data_dir(const char *name)
{
    const char *top = g_getenv("abs_top_srcdir");
    g_autofree char *here = NULL;

    if (top)
        return g_build_filename(top, "tests", name, NULL);
    here = g_path_get_dirname(__FILE__);
    return g_build_filename(here, name, NULL);
}

/* The whole file, or the test aborts naming it. */
static inline char *
vsb_test_read_file(const char *path)
{
    g_autoptr(GError) error = NULL;
    char *data = NULL;

    if (!g_file_get_contents(path, &data, NULL, &error))
        g_error("%s", error->message);
    return data;
}
