/*
 * vsb-sandbox-seclabel.h: sVirt for virt-sandbox -s dynamic.
 *
 * Our driver runs init with the <label> of the domain's <seclabel>
 * (setexeccon in the controller) but allocates nothing, so the tool
 * does what libvirt's driver does for a dynamic label:
 *
 *   allocate  a pair of distinct MCS categories c0..c1023 that no other
 *             running sandbox holds, and put them on the base process
 *             label (-s dynamic,label=BASE, else the policy's
 *             lxc_contexts "process", else svirt_lxc_net_t) and on the
 *             file label (lxc_contexts "file", else
 *             svirt_sandbox_file_t): BASE's level "s0" becomes
 *             "s0:c12,c345".  The domain XML carries them the way
 *             libvirt shows a running dynamic domain:
 *               <seclabel type='dynamic' model='selinux' relabel='yes'>
 *                 <label>...:s0:c12,c345</label>
 *                 <imagelabel>...:s0:c12,c345</imagelabel>
 *               </seclabel>
 *             (our conf layer takes that form back on input, and the
 *             controller execs init with <label>).
 *   register  the pair in a lease directory (RUNSTATEDIR/virt-sandbox/mcs):
 *             under an exclusive flock of its "lock" file, one file per
 *             pair ("c12,c345") holding "PID STARTTIME NAME" of the
 *             tool that holds it.  A lease whose tool is gone (its
 *             sandbox went with it: the driver destroys a transient
 *             domain when its client's connection drops) is reclaimed
 *             by the next allocation, so a kill -9 leaks nothing for
 *             long.  Concurrent tools serialise on the lock, so no two
 *             running sandboxes share a pair.
 *   relabel   where SELinux is enabled: the sandbox's state directory
 *             (its config, temporary shares, image exports), every
 *             host-bind source tree and host-image file get the file
 *             label; their old labels are restored at the end.
 *
 * Where SELinux is off nothing is relabelled, but the pair is still
 * allocated and the XML still carries the labels: the driver reports
 * the security model "none" and the controller ignores them.
 */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

G_BEGIN_DECLS

#define VSB_MCS_CATEGORIES 1024
#define VSB_SECLABEL_DEFAULT_PROCESS "system_u:system_r:svirt_lxc_net_t:s0"
#define VSB_SECLABEL_DEFAULT_FILE "system_u:object_r:svirt_sandbox_file_t:s0"
/* The types of our own policy module (selinux-policy/), preferred where
 * the loaded policy has them. */
#define VSB_SECLABEL_POLICY_PROCESS "system_u:system_r:virt_sandbox_lxc_t:s0"
#define VSB_SECLABEL_POLICY_FILE "system_u:object_r:virt_sandbox_file_t:s0"
/* KVM sandboxes' QEMU: the base of the dynamic label libvirt's sVirt
 * gives it (categories are libvirt's to allocate). */
#define VSB_SECLABEL_POLICY_KVM_PROCESS "system_u:system_r:virt_sandbox_kvm_t:s0"
#define VSB_MCS_LEASE_DIR RUNSTATEDIR "/virt-sandbox/mcs"

/* Two distinct categories, c1 < c2. */
typedef struct {
    int c1, c2;
} VsbMcsPair;

typedef struct {
    uint8_t bits[VSB_MCS_CATEGORIES / 8];
} VsbMcsSet;

/* --- pure logic -------------------------------------------------- */

/* "user:role:type:level" -> "user:role:type" and "level" (which may
 * hold ':' itself, "s0:c1,c2"). */
bool vsb_seclabel_split(const char *context, char **prefix, char **level, GError **error);
/* "c0.c3,c7" (a range is cA.cB with A <= B) into @set (cleared first). */
bool vsb_mcs_parse_categories(const char *spec, VsbMcsSet *set, GError **error);
/* A level "s0", "s0:c1,c2" or a range "s0-s0:c0.c1023": the low end's
 * sensitivity ("s0") and categories. */
bool vsb_mcs_parse_level(const char *level, char **sensitivity, VsbMcsSet *set,
                         GError **error);
bool vsb_mcs_set_has(const VsbMcsSet *set, int c);
/* @base with its level replaced by its low sensitivity and @pair:
 * "u:r:t:s0-s0:c0.c1023" + c3,c9 -> "u:r:t:s0:c3,c9". */
char *vsb_seclabel_with_pair(const char *base, VsbMcsPair pair, GError **error);
/* The pair of a label whose level names exactly two categories. */
bool vsb_mcs_pair_from_label(const char *label, VsbMcsPair *pair);
/* "c3,c9" and back (lease file names). */
char *vsb_mcs_pair_to_string(VsbMcsPair pair);
bool vsb_mcs_pair_from_string(const char *s, VsbMcsPair *pair);
/* Index of a pair in 0 .. VSB_MCS_CATEGORIES * (VSB_MCS_CATEGORIES - 1) / 2 - 1, and back. */
guint vsb_mcs_pair_index(VsbMcsPair pair);
VsbMcsPair vsb_mcs_pair_at(guint index);
#define VSB_MCS_PAIRS (VSB_MCS_CATEGORIES * (VSB_MCS_CATEGORIES - 1) / 2)
/* A pair not in @used (a set of vsb_mcs_pair_index() + 1 as
 * GUINT_TO_POINTER): a few random tries, then the first free one after
 * a random start.  False when all are taken. */
bool vsb_mcs_pick(GHashTable *used, GRand *rng, VsbMcsPair *pair);
/* The "process" and "file" contexts of an lxc_contexts file's text
 * (lines KEY = "VALUE"; # comments); missing ones stay NULL. */
void vsb_seclabel_parse_lxc_contexts(const char *text, char **process, char **file);
/* Does the loaded policy know this context?  (security_check_context) */
typedef bool (*VsbSeclabelValidFunc)(const char *context);
/* The base labels of -s dynamic, process and file, from the first of
 * these pairs whose two contexts @valid accepts: our module's
 * (virt_sandbox_lxc_t, virt_sandbox_file_t), lxc_contexts' (@lxc_text,
 * may be NULL), libvirt's classic ones (svirt_lxc_net_t,
 * svirt_sandbox_file_t, also the answer when none is valid).  With
 * -s label=@label the process is @label, and the file that of the
 * first valid pair whose process has @label's type (a base whose files
 * the process may use), else of the first valid pair.  @valid NULL
 * (SELinux off: nothing to ask) takes the classic pair. */
void vsb_seclabel_dynamic_bases(const char *label, const char *lxc_text,
                                VsbSeclabelValidFunc valid, char **process, char **file);

/* --- leases ------------------------------------------------------ */

typedef struct _VsbMcsLease VsbMcsLease;
/* Take a pair no live lease in @dir holds (created 0700 if missing),
 * for the sandbox @owner, held by this process. */
VsbMcsLease *vsb_mcs_lease_take(const char *dir, const char *owner, GRand *rng,
                                GError **error);
VsbMcsPair vsb_mcs_lease_get_pair(VsbMcsLease *lease);
/* Give the pair back (removes the lease file) and free. */
void vsb_mcs_lease_release(VsbMcsLease *lease);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VsbMcsLease, vsb_mcs_lease_release)

/* --- relabelling (SELinux enabled) -------------------------------- */

typedef struct _VsbRelabel VsbRelabel;
VsbRelabel *vsb_relabel_new(void);
/* Label @path (and, when a directory, everything below it on the same
 * file system, symlinks themselves) with @label, remembering the old
 * labels. */
bool vsb_relabel_tree(VsbRelabel *r, const char *path, const char *label, GError **error);
/* Put the old labels back, newest first; true when all went back (the
 * first failure in @error, the rest still tried). */
bool vsb_relabel_restore(VsbRelabel *r, GError **error);
void vsb_relabel_free(VsbRelabel *r);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VsbRelabel, vsb_relabel_free)

G_END_DECLS
