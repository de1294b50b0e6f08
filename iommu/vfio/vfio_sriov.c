/* SR-IOV under the VFIO face, as vfio-pci (drivers/vfio/pci/vfio_pci_core.c) has it: a PF that
 * a program may take configures its VFs through sriov_numvfs (vfio_pci_core_sriov_configure),
 * and the PF and the VFs it made share a VF token (a UUID) that proves the programs using
 * them collaborate: vfio_pci_core_match_token_uuid's rules, checked when a device is opened
 * through its group ("BDF vf_token=UUID", vfio_pci_core_match) or bound through its cdev
 * (VFIO_DEVICE_BIND_FLAG_TOKEN), and set with VFIO_DEVICE_FEATURE_PCI_VF_TOKEN.
 *
 * Linux gives each PF a random token when vfio-pci binds it (uuid_gen). moat has no entropy
 * source: a PF's token starts unset and matches no UUID until a program sets one (opening the
 * PF with a token while no VF is in use, or the feature) — as unguessable as Linux's. */
#include "iommu/vfio/vfio_private.h"
#include "pci/pci_platform.h"

#define VFIO_MAX_PFS 16
#define UUID_STRING_LEN 36

struct vfio_pf_state {
    const struct pci_dev *pf;   /* NULL: a free entry */
    bool sriov;                 /* its VFs were made by vfio_sriov_configure (Linux: the PF is
                                 * on vfio_pci_sriov_pfs, so its VFs find it) */
    bool token_set;
    uint8_t token[16];
    unsigned users;             /* VFs open (vfio_pci_core_finish_enable .. close_device) */
};

static struct vfio_pf_state pfs[VFIO_MAX_PFS];

/* A PF as Linux's is_physfn: the SR-IOV capability with VFs to offer. */
static bool is_pf(const struct pci_dev *d)
{
    return d->caps.sriov && !d->is_virtfn && d->total_vfs;
}

static struct vfio_pf_state *pf_state(const struct pci_dev *pf, bool make)
{
    struct vfio_pf_state *free = NULL;
    for (unsigned i = 0; i < VFIO_MAX_PFS; i++) {
        if (pfs[i].pf == pf)
            return &pfs[i];
        if (!pfs[i].pf && !free)
            free = &pfs[i];
    }
    if (!make || !free)
        return NULL;
    *free = (struct vfio_pf_state){ .pf = pf };
    return free;
}

/* The state of the PF whose vfio_sriov_configure made vf (Linux's sriov_pf_core_dev), or NULL
 * when its VFs came otherwise (boot's sriov_numvfs=max, a runtime driver). */
static struct vfio_pf_state *vf_owner(const struct pci_dev *vf)
{
    struct pci_system *sys = vfio_pci();
    if (!vf->is_virtfn || vf->physfn == PCI_NONE || vf->physfn >= sys->ndevs)
        return NULL;
    struct vfio_pf_state *st = pf_state(&sys->devs[vf->physfn], false);
    return st && st->sriov ? st : NULL;
}

/* Linux's vfio_pci_core_sriov_configure, from a write of sriov_numvfs whose checks passed
 * (vfio_sysfs.c): VFs are made once until disabled (EINVAL), and the PF remembers that they are
 * its own, so that they ask for its token. Disabling while a program has one of them open is
 * pci_sriov_set_numvfs's EBUSY (the hot-plug holder: vfio_device_held): Linux's write would
 * wait there until the program let go (vfio_unregister_group_dev asking it through its request
 * eventfd), which the program itself, or any program in moat's single thread, could never do. */
int vfio_sriov_configure(struct pci_dev *pf, unsigned num_vfs)
{
    struct vfio_pf_state *st = pf_state(pf, num_vfs != 0);
    if (num_vfs && !st)
        return ERR(-ENOMEM);
    if (num_vfs && st->sriov)
        return ERR(-EINVAL);
    int n = pci_sriov_set_numvfs(pf, num_vfs);
    if (st)
        st->sriov = num_vfs && n > 0;
    return n;
}

/* Linux's vfio_pci_core_match_token_uuid: uuid is NULL when the program gave none. */
int vfio_match_token(const struct pci_dev *pdev, const uint8_t *uuid)
{
    if (pdev->is_virtfn) {
        struct vfio_pf_state *pf = vf_owner(pdev);
        if (!pf)
            return uuid ? ERR(-EINVAL) : 0;     /* "PF not bound to vfio-pci" */
        if (!uuid)
            return ERR(-EACCES);                /* "VF token required to access device" */
        if (!pf->token_set || memcmp(uuid, pf->token, sizeof(pf->token)) != 0)
            return ERR(-EACCES);                /* "Incorrect VF token provided for device" */
        return 0;
    }
    if (is_pf(pdev)) {
        struct vfio_pf_state *st = pf_state(pdev, uuid != NULL);
        if (uuid && !st)
            return ERR(-ENOMEM);
        if (st && st->users) {
            if (!uuid || !st->token_set || memcmp(uuid, st->token, sizeof(st->token)) != 0)
                return ERR(-EACCES);
        } else if (uuid) {
            memcpy(st->token, uuid, sizeof(st->token));   /* no VF in use: it sets the token */
            st->token_set = true;
        }
        return 0;
    }
    return uuid ? ERR(-EINVAL) : 0;             /* "not a PF or VF" */
}

void vfio_token_vf_opened(const struct pci_dev *vf)
{
    struct vfio_pf_state *pf = vf_owner(vf);
    if (pf)
        pf->users++;
}

void vfio_token_vf_closed(const struct pci_dev *vf)
{
    struct vfio_pf_state *pf = vf_owner(vf);
    if (pf && pf->users)
        pf->users--;
}

/* A PF that leaves (hot-unplug) takes its state with it: its entry may come back as another
 * device. */
void vfio_sriov_leaving(const struct pci_dev *pdev)
{
    struct vfio_pf_state *st = pf_state(pdev, false);
    if (st)
        *st = (struct vfio_pf_state){ 0 };
}

/* Linux's vfio_pci_core_match: 0 when name is not this device, 1 when it is (with the token
 * rules passed), or the errno that ends the lookup: the name must be the BDF, alone or followed
 * by a space and options; the only option is one "vf_token=<UUID>". */
int vfio_match_name(const struct pci_dev *pdev, const char *name)
{
    char bdf[16];
    pci_format_bdf(pdev, bdf, sizeof(bdf));
    size_t n = strlen(bdf);
    if (strncmp(name, bdf, n) != 0)
        return 0;
    const char *p = name + n;
    if (*p && *p != ' ')
        return 0;
    static const char opt[] = "vf_token=";
    bool have = false;
    uint8_t uuid[16];
    while (*p) {
        if (*p == ' ') {
            p++;
            continue;
        }
        if (have || strncmp(p, opt, sizeof(opt) - 1) != 0)
            return ERR(-EINVAL);                /* unknown or duplicate option */
        p += sizeof(opt) - 1;
        if (strlen(p) < UUID_STRING_LEN)
            return ERR(-EINVAL);
        if (uuid_from_text(p, uuid))
            return ERR(-EINVAL);           /* uuid_parse */
        have = true;
        p += UUID_STRING_LEN;
    }
    int err = vfio_match_token(pdev, have ? uuid : NULL);
    return err ? err : 1;
}

/* Linux's vfio_pci_core_feature_token over vfio_check_feature: only a PF has the feature
 * (ENOTTY); GET is refused, as it could show the previous user's token (EINVAL); PROBE
 * answers 0; otherwise SET needs the 16 bytes of a UUID. */
long vfio_feature_vf_token(struct vfio_device *vd, uint32_t flags, unsigned long data,
                           size_t len)
{
    if (!is_pf(vd->pdev))
        return ERR(-ENOTTY);
    if (flags & VFIO_DEVICE_FEATURE_GET)
        return ERR(-EINVAL);
    if (flags & VFIO_DEVICE_FEATURE_PROBE)
        return 0;
    if (!(flags & VFIO_DEVICE_FEATURE_SET) || len < 16)
        return ERR(-EINVAL);
    uint8_t uuid[16];
    if (vfio_copy_from(uuid, data, sizeof(uuid)))
        return ERR(-EFAULT);
    struct vfio_pf_state *st = pf_state(vd->pdev, true);
    if (!st)
        return ERR(-ENOMEM);
    memcpy(st->token, uuid, sizeof(uuid));
    st->token_set = true;
    return 0;
}
