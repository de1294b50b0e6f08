/* The portable PCI core: enumeration, capabilities, resources, SR-IOV and isolation groups.
 *
 * Nothing here touches hardware directly. Configuration space is reached through the
 * struct pci_cfg_ops that the platform hands in (ECAM or port I/O in the image, a model in host
 * tests); devices live in an array the caller provides. Everything read from configuration space
 * is untrusted: malformed lists, bridges and sizes end a walk with a warning, never a hang.
 *
 * Order of use (each step needs the ones before it):
 *   pci_system_init()            ops, host bridges (root buses, apertures), device array
 *   pci_enumerate()              scan, bus numbers, capabilities, BAR sizing, ACS enable
 *   pci_assign_resources()       BARs and bridge windows that firmware left unassigned
 *   pci_sriov_enable_all()       VFs on every PF (optional: Linux leaves them off)
 *   pci_assign_groups()          isolation groups, Linux's rules
 *   pci_print_tree(), pci_print_groups()
 */
#ifndef MOAT_PCI_PCI_H
#define MOAT_PCI_PCI_H

#include "lib/compiler.h"
#include "pci/pci_regs.h"

/* Configuration-space access; width is 1, 2 or 4 and off is aligned to it. A function that is
 * absent reads all ones. */
struct pci_cfg_ops {
    uint32_t (*read)(void *ctx, uint16_t seg, uint8_t bus, uint8_t devfn, uint16_t off,
                     unsigned width);
    void (*write)(void *ctx, uint16_t seg, uint8_t bus, uint8_t devfn, uint16_t off,
                  unsigned width, uint32_t val);
    /* Optional: waits at least us microseconds (SR-IOV's 100 ms after VF Enable). */
    void (*delay_us)(void *ctx, unsigned us);
};

/* An address range [base, base + size); size 0 means none. */
struct pci_aperture {
    uint64_t base;
    uint64_t size;
};

/* One root bus range of one segment: the q35 root bus 0, or a pxb-pcie expander's bus. Buses
 * bus_start..bus_end belong to it; bus_start is scanned as the root bus. Apertures are where
 * pci_assign_resources() places BARs and windows below this root bus. */
struct pci_host_bridge {
    uint16_t seg;
    uint8_t bus_start, bus_end;
    struct pci_aperture mem32;   /* below 4 GiB: non-prefetchable and 32-bit BARs */
    struct pci_aperture mem64;   /* 64-bit prefetchable; size 0 puts those in mem32 too */
    struct pci_aperture io;
};

enum pci_bar_flags {
    PCI_BAR_IO = BIT(0),
    PCI_BAR_MEM64 = BIT(1),
    PCI_BAR_PREFETCH = BIT(2),
    PCI_BAR_ASSIGNED = BIT(3),   /* base holds an address inside the decoding windows */
    /* Placement was tried and found no room (named then): like the resource Linux resets after
     * a failed assignment, nothing enables its decode (pci_enable_decode skips it). */
    PCI_BAR_NOSPACE = BIT(4),
};

struct pci_bar {
    uint64_t base;   /* bus address; for a PF's VF BAR, that of VF 0 */
    uint64_t size;   /* 0: not implemented (or the upper half of a 64-bit BAR) */
    uint8_t flags;
};

/* Offsets of the capabilities found (0 when absent). */
struct pci_caps {
    uint8_t pm, msi, msix, exp;
    uint16_t aer, acs, ari, ats, pri, pasid, sriov;
};

/* Warnings recorded per device (also printed once when found). */
enum pci_warn {
    PCI_WARN_CAP_LOOP = BIT(0),        /* legacy list revisits an entry */
    PCI_WARN_CAP_PTR = BIT(1),         /* pointer into the header or out of range */
    PCI_WARN_CAP_TTL = BIT(2),         /* too many entries */
    PCI_WARN_EXT_CAP_LOOP = BIT(3),
    PCI_WARN_EXT_CAP_PTR = BIT(4),
    PCI_WARN_BUS_NUMBERS = BIT(5),     /* bridge bus numbers invalid, reassigned */
    PCI_WARN_NO_BUS = BIT(6),          /* no bus number left for this bridge */
    PCI_WARN_BAR = BIT(7),             /* BAR could not be sized or placed */
    PCI_WARN_SRIOV = BIT(8),           /* SR-IOV capability unusable */
    PCI_WARN_ARI = BIT(9),             /* ARI next-function chain malformed */
};

#define PCI_NO_GROUP (-1)
#define PCI_NONE UINT32_MAX   /* an absent device index */

struct pci_dev {
    uint16_t seg;
    uint8_t bus, devfn;
    uint16_t vendor, device;
    uint32_t class_rev;        /* class code 31:8, revision 7:0 */
    uint8_t hdr_type;          /* layout, without the multi-function bit */
    uint8_t pcie_type;         /* PCI_EXP_TYPE_*, valid when caps.exp */
    bool multifunction;        /* as Linux: MFD bit on function 0, forced on functions > 0 */
    bool is_bridge;
    bool is_virtfn;
    bool ari_fwd;              /* bridge: ARI Forwarding enabled on its secondary bus */
    bool flr;                  /* PCIe Function Level Reset capable (Device Capabilities) */
    bool hotplug_slot;         /* Root/Downstream Port with a hot-plug capable slot */
    bool gone;                 /* removed (hot-unplug): skipped by every lookup and walk; its
                                * entry is reused when it is the last of devs[] */
    uint16_t cfg_size;
    uint32_t quirks;           /* PCI_QUIRK_* (pci_internal.h) */
    uint32_t warnings;         /* enum pci_warn */
    struct pci_caps caps;
    struct pci_bar bar[PCI_STD_NUM_BARS];
    /* bridges */
    uint8_t secondary, subordinate;
    struct pci_aperture win_io, win_mem, win_pref;
    bool pref64;               /* prefetchable window decodes 64 bits */
    /* SR-IOV physical functions */
    uint16_t total_vfs, num_vfs, vf_offset, vf_stride, vf_device;
    struct pci_bar vf_bar[PCI_STD_NUM_BARS];
    /* tree: indices into pci_system.devs, PCI_NONE when absent */
    uint32_t parent;           /* bridge whose secondary bus holds us (for a VF, the PF's) */
    uint32_t first_child, next_sibling;
    uint32_t last_child;       /* tail of our children's list: appending stays O(1) */
    uint32_t physfn;           /* VFs: their PF */
    uint8_t depth;
    uint8_t host;              /* index of the host bridge (root bus) above us */
    bool bus_fw_ok;            /* enumeration: firmware's bus numbers were kept */
    /* resource assignment scratch: window needs per kind (I/O, memory, prefetchable) */
    uint64_t need_size[3], need_align[3];
    bool need32;               /* something below needs the prefetchable window below 4 GiB */
    uint32_t dma_alias[8];     /* devfns on our bus that we also use as requester IDs */
    bool alias_peer;           /* pci_assign_groups scratch: a function on our bus is our DMA
                                * alias, or has us as one */
    int group;                 /* PCI_NO_GROUP until pci_assign_groups() */
    bool no_group;             /* not translated by the IOMMU: never grouped. Set for the
                                * IOMMU's own function (class 0806, as on AMD); the platform
                                * may set it for others before pci_assign_groups() */
    const char *driver;        /* set by the driver that binds, for the tree printout */
    uint16_t decode_restore;   /* PCI_SYS_DEFER_DECODE: the decode bits sizing turned off,
                                * given back by the function's enable or pci_restore_decode */
};

enum pci_system_flags {
    PCI_SYS_NO_ACS_ENABLE = BIT(0),    /* leave ACS control as found (Linux enables it) */
    PCI_SYS_AMD_IVRS = BIT(1),         /* an AMD IOMMU is present: AMD southbridge ACS quirk */
    PCI_SYS_NO_BAR_SIZING = BIT(2),    /* topology only (a probe pass): BARs are not touched */
    /* Fewer command-register writes, each of which can cost a hypervisor a rebuild of its
     * memory map: sizing leaves an endpoint's decode off (its enable turns it on with bus
     * mastering in one write; pci_restore_decode gives it back to functions nobody enabled;
     * bridges get theirs back at once, as they forward to what lies below), and host
     * bridges are neither sized nor have their decode touched (Linux keeps their decode on
     * too: mmio_always_on). */
    PCI_SYS_DEFER_DECODE = BIT(3),
};

#define PCI_MAX_HOST_BRIDGES 16

/* Who else may hold a function (pci_system.holder): the VFIO face, for a program that has the
 * device open. While a function below a hot-plug slot is held, its removal waits
 * (pci/pci_hotplug.c): request() asks the holder to let go (VFIO signals the program's
 * VFIO_PCI_REQ_IRQ_INDEX eventfd), again every 10 s as Linux's vfio_unregister_group_dev does;
 * once nothing is held, leaving() lets the holder drop what still refers to the function
 * (bindings in an IOMMUFD context), and the removal goes on. */
struct pci_hotplug_holder {
    bool (*held)(const struct pci_dev *dev);
    void (*request)(struct pci_dev *dev, unsigned count);
    void (*leaving)(struct pci_dev *dev);
};

struct pci_system {
    const struct pci_cfg_ops *ops;
    void *ctx;
    struct pci_host_bridge host[PCI_MAX_HOST_BRIDGES];
    unsigned nhost;
    struct pci_dev *devs;      /* caller's array */
    uint32_t ndevs, max_devs;
    uint32_t root_first[PCI_MAX_HOST_BRIDGES];   /* first device on each root bus */
    uint32_t root_last[PCI_MAX_HOST_BRIDGES];    /* and the last */
    uint32_t flags;
    unsigned ngroups;          /* group numbers handed out: 0 .. ngroups-1 */
    uint64_t free_groups[4];   /* numbers below 256 whose group emptied (hot-unplug): reused
                                * lowest first, as Linux's group ID allocator does */
    /* Optional: is a group number still held by someone (a VFIO group file that a program
     * keeps open after its devices left)? Such a number is not reused until let go, as a
     * Linux iommu_group lives while referenced. */
    bool (*group_busy)(int group);
    const struct pci_hotplug_holder *holder;   /* optional, see above */
    unsigned warnings;         /* total warnings printed */
    bool overflow;             /* devs[] was too small: devices were left out */
};

/* Sets up sys. host[] gives every root bus (seg, bus range, apertures); devs[] receives the
 * devices. Returns -EINVAL for bad arguments (no ops, no hosts, too many, bad bus ranges). */
int pci_system_init(struct pci_system *sys, const struct pci_cfg_ops *ops, void *ctx,
                    const struct pci_host_bridge *host, unsigned nhost,
                    struct pci_dev *devs, uint32_t max_devs, uint32_t flags);

/* Scans every root bus depth-first. Returns the number of devices found, or -ENOSPC when devs[]
 * filled up (the devices that fit are kept and usable). It writes configuration space: bus
 * numbers of bridges firmware left unconfigured (or configured impossibly), BARs while sizing
 * them (restored; decode too, unless PCI_SYS_DEFER_DECODE), ACS Control (SV|RR|CR|UF, unless PCI_SYS_NO_ACS_ENABLE), ARI Forwarding
 * Enable on ports, and the SR-IOV ARI Capable Hierarchy / NumVFs (left 0) of PFs. */
int pci_enumerate(struct pci_system *sys);

/* Places every unassigned BAR and bridge window of each host bridge inside its apertures.
 * When all firmware assignments are valid nothing changes. Returns 0, or -ENOSPC when some did
 * not fit (those stay unassigned and decode stays off for them). */
int pci_assign_resources(struct pci_system *sys);

/* Enables VFs on every PF: NumVFs = min(TotalVFs, max_vfs) (max_vfs 0: TotalVFs). The VFs are
 * appended to devs[]. Returns the number of VFs added or a negative errno. */
int pci_sriov_enable_all(struct pci_system *sys, unsigned max_vfs);
/* num_vfs VFs on one PF (0: TotalVFs); -EBUSY when it has VFs already, -ENODEV when it is no PF.
 * Returns how many were added. */
int pci_sriov_enable(struct pci_system *sys, struct pci_dev *pf, unsigned num_vfs);
/* VF Enable off and the PF's VFs forgotten (marked gone, out of the tree, their group numbers
 * given back when emptied); the caller has let go of them first. -ENODEV when pf is no PF. */
int pci_sriov_disable(struct pci_system *sys, struct pci_dev *pf);

/* Sorts every device (except no_group ones) into an isolation group with Linux's rules, in
 * enumeration order, numbering groups from 0; returns the group count. */
int pci_assign_groups(struct pci_system *sys);

/* Requester IDs the IOMMU must accept for dev's DMA (its own and its aliases, as Linux's
 * pci_for_each_dma_alias reports them). fn returns non-zero to stop; that value is returned. */
typedef int (*pci_alias_fn)(struct pci_dev *dev, uint16_t rid, void *arg);
int pci_for_each_dma_alias(struct pci_system *sys, struct pci_dev *dev, pci_alias_fn fn,
                           void *arg);

/* Hot-plug, below one Root or Downstream Port whose bus numbers are set:
 *   pci_scan_below()     enumerates what is on the port's secondary bus now (it must have no
 *                        children); returns the index of the first new device (ndevs when none)
 *   pci_assign_below()   places the new subtree's BARs inside the port's windows (-ENOSPC,
 *                        with a message, when they do not fit: the windows never move)
 *   pci_group_added()    groups devices first..ndevs-1 with the boot's rules (a new function may
 *                        join an existing group)
 *   pci_remove_below()   forgets everything below the port (marks it gone)
 * At boot, pci_assign_resources() gives each hot-plug port's windows at least the padding
 * below (as Linux's pci=hpmemsize/hpmmioprefsize do; no I/O window is padded). */
#define PCI_HOTPLUG_MEM_PAD (2ULL << 20)
#define PCI_HOTPLUG_PREF_PAD (2ULL << 20)
uint32_t pci_scan_below(struct pci_system *sys, struct pci_dev *port);
int pci_assign_below(struct pci_system *sys, struct pci_dev *port);
void pci_group_added(struct pci_system *sys, uint32_t first);
void pci_remove_below(struct pci_system *sys, struct pci_dev *port);

void pci_print_tree(const struct pci_system *sys);
void pci_print_groups(const struct pci_system *sys);
void pci_print_group(const struct pci_system *sys, unsigned g);   /* one iommu_group line */

/* Lookup and access for drivers. */
struct pci_dev *pci_get_dev(struct pci_system *sys, uint16_t seg, uint8_t bus, uint8_t devfn);
struct pci_dev *pci_get_dev_by_id(struct pci_system *sys, uint16_t vendor, uint16_t device,
                                  struct pci_dev *from);
uint32_t pci_dev_index(const struct pci_system *sys, const struct pci_dev *dev);
uint8_t pci_read8(struct pci_system *sys, const struct pci_dev *dev, uint16_t off);
uint16_t pci_read16(struct pci_system *sys, const struct pci_dev *dev, uint16_t off);
uint32_t pci_read32(struct pci_system *sys, const struct pci_dev *dev, uint16_t off);
void pci_write8(struct pci_system *sys, const struct pci_dev *dev, uint16_t off, uint8_t v);
void pci_write16(struct pci_system *sys, const struct pci_dev *dev, uint16_t off, uint16_t v);
void pci_write32(struct pci_system *sys, const struct pci_dev *dev, uint16_t off, uint32_t v);
/* Offset of a capability, walked live with the same bounds as enumeration; 0 when absent. */
uint16_t pci_find_cap(struct pci_system *sys, const struct pci_dev *dev, uint8_t id);
uint16_t pci_find_ext_cap(struct pci_system *sys, const struct pci_dev *dev, uint16_t id);
/* Calls visit(id, offset, arg) for each capability (ext: each extended one), walked live as
 * pci_find_cap walks, until visit returns true. */
void pci_for_each_cap(struct pci_system *sys, const struct pci_dev *dev, bool ext,
                      bool (*visit)(uint16_t id, uint16_t off, void *arg), void *arg);
/* Sets Memory/I/O Space Enable for the BARs that are assigned, and Bus Master Enable. */
int pci_enable_device(struct pci_system *sys, struct pci_dev *dev);
/* The same, setting the extra command bits (e.g. Interrupt Disable) in the same write: each
 * command-register write can cost a hypervisor a rebuild of its memory map. */
int pci_enable_device_cmd(struct pci_system *sys, struct pci_dev *dev, uint16_t extra);
/* Memory/I/O Space Enable for the BARs that need it, bus mastering left as it is: Linux's
 * pci_enable_device (pci_enable_resources), which vfio-pci calls when a device is first opened.
 * A BAR that found no room (PCI_BAR_NOSPACE) is skipped; one never placed fails it with -EINVAL
 * ("not assigned; can't enable device"), writing nothing; a function that is gone: -ENODEV. */
int pci_enable_decode(struct pci_system *sys, struct pci_dev *dev);
/* Bus Master Enable off (Linux's pci_clear_master): the function's DMA stops. Nothing is
 * written to a function that reads back all-ones (gone). */
void pci_clear_master(struct pci_system *sys, struct pci_dev *dev);
void pci_set_driver(struct pci_dev *dev, const char *name);
/* Resets one endpoint with its configuration kept (pci_reset.c): FLR, else a secondary bus
 * reset when it is alone below its bridge; -ENOTTY when neither is possible (as Linux),
 * -ETIMEDOUT when it does not come back within 1 s. Mappings of its domain are untouched. */
bool pci_reset_supported(struct pci_system *sys, struct pci_dev *dev);
int pci_reset_function(struct pci_system *sys, struct pci_dev *dev);
/* Where dev's INTx pin arrives on its root bus: the root-bus function above dev (dev itself on
 * a root bus), with *pin (0 = INTA) swizzled at each bridge on the way up, pin' = (pin + slot)
 * % 4 (PCI-to-PCI Bridge spec 9.1). NULL when dev has no interrupt pin. */
const struct pci_dev *pci_intx_root(struct pci_system *sys, const struct pci_dev *dev,
                                    unsigned *pin);
/* PCI_SYS_DEFER_DECODE: turns decode back on for the functions sizing left off and no driver
 * enabled (their firmware state); returns how many. */
unsigned pci_restore_decode(struct pci_system *sys);
/* "0000:00:03.0" into buf (at least 13 bytes). */
void pci_format_bdf(const struct pci_dev *dev, char *buf, size_t size);

#endif
