/*
 * vsb-sandbox-service-private.h: what the service files share
 * (vsb-sandbox-service.c, vsb-sandbox-service-run.c).
 */
#pragma once

#include "vsb-sandbox-service.h"

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

struct _VsbServiceStore {
    char *uri;
    char *basedir;
    char *init_path;            /* NULL: the builder's default */
    virConnectPtr conn;         /* opened on first use */
};

/* "WHAT: libvirt's last error" in VSB_SANDBOX_ERROR; returns false. */
bool vsb_service_set_virt_error(GError **error, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
virConnectPtr vsb_service_connect(VsbServiceStore *s, GError **error);
/* The service's domain (the service must exist); NULL with an error. */
virDomainPtr vsb_service_lookup(VsbServiceStore *s, const char *name, GError **error);
/* The service's service.conf; vsb_service_options_clear() after. */
bool vsb_service_load_options(VsbServiceStore *s, const char *name, VsbServiceOptions *opts,
                              GError **error);
