/* A model of PCI configuration space for host tests: functions with 4 KiB config spaces and
 * write masks, bridges that route configuration requests by their secondary/subordinate bus
 * registers as real ones do, BARs sized by their masks, and SR-IOV VFs that appear when the PF's
 * VF Enable is set. Presets build the devices QEMU exposes. */
#ifndef MOAT_TESTS_HOST_PCI_FAKE_PCI_H
#define MOAT_TESTS_HOST_PCI_FAKE_PCI_H

#include <stdbool.h>
#include <stdint.h>

#include "pci/pci.h"

#define FAKE_ROOT(r) (-1 - (r))   /* parent value for a function on root bus r */

struct fake_fn {
    int parent;                 /* bridge function index, or FAKE_ROOT(r) */
    uint8_t devfn;
    bool is_vf;
    int pf;                     /* VFs */
    unsigned vf_index;
    uint16_t cap_tail, ext_tail;   /* where the next capability goes */
    uint16_t last_cap, last_ext;
    uint16_t cfg_size;
    uint8_t cfg[4096];
    uint8_t wmask[4096];
};

struct fake_root {
    uint16_t seg;
    uint8_t bus;
};

struct fake_pci {
    struct fake_fn *fns;
    unsigned n, cap;
    struct fake_root roots[8];
    unsigned nroots;
    unsigned long reads, writes;
    /* When set, every read returns this (hostile: "all ones everywhere"). */
    bool all_ones;
};

extern const struct pci_cfg_ops fake_pci_ops;

void fake_init(struct fake_pci *f);
void fake_free(struct fake_pci *f);
unsigned fake_add_root(struct fake_pci *f, uint16_t seg, uint8_t bus);
/* A function with vendor/device/class (24-bit class code); hdr 0 or 1. Returns its index. */
int fake_add(struct fake_pci *f, int parent, unsigned slot, unsigned fn, uint16_t vendor,
             uint16_t device, uint32_t class_code, unsigned hdr);
void fake_set_mfd(struct fake_pci *f, int fn);
uint16_t fake_add_cap(struct fake_pci *f, int fn, uint8_t id, unsigned len);
uint16_t fake_add_ext_cap(struct fake_pci *f, int fn, uint16_t id, unsigned len);
uint16_t fake_add_pcie(struct fake_pci *f, int fn, unsigned type, bool flr, bool ari_fwd);
uint16_t fake_add_acs(struct fake_pci *f, int fn, uint16_t cap_bits);
uint16_t fake_add_ari(struct fake_pci *f, int fn, uint8_t next_fn);
/* BAR i: size (power of two), flags PCI_BAR_IO / PCI_BAR_MEM64 / PCI_BAR_PREFETCH. */
void fake_bar(struct fake_pci *f, int fn, unsigned i, uint64_t size, unsigned flags);
/* Adds an SR-IOV capability with total VFs at offset/stride and one VF memory BAR (64-bit). */
uint16_t fake_add_sriov(struct fake_pci *f, int pf, uint16_t total, uint16_t offset,
                        uint16_t stride, uint16_t vf_device, uint64_t vf_bar_size);
/* Firmware-style bus numbers on a bridge. */
void fake_set_buses(struct fake_pci *f, int fn, uint8_t pri, uint8_t sec, uint8_t sub);

void fake_w8(struct fake_pci *f, int fn, unsigned off, uint8_t v);
void fake_w16(struct fake_pci *f, int fn, unsigned off, uint16_t v);
void fake_w32(struct fake_pci *f, int fn, unsigned off, uint32_t v);
uint32_t fake_r32(struct fake_pci *f, int fn, unsigned off);

/* QEMU device presets (parent, slot, fn). They return the function index. */
int fake_q35_base(struct fake_pci *f);      /* root bus 0 with 00.0 and ICH9 1f.0/.2/.3 */
int fake_e1000e(struct fake_pci *f, int parent, unsigned slot, unsigned fn);
int fake_edu(struct fake_pci *f, int parent, unsigned slot, unsigned fn);
int fake_virtio_blk(struct fake_pci *f, int parent, unsigned slot, unsigned fn);
int fake_nvme(struct fake_pci *f, int parent, unsigned slot, unsigned fn);
int fake_root_port(struct fake_pci *f, int parent, unsigned slot, unsigned fn);
int fake_switch_up(struct fake_pci *f, int parent, unsigned slot, unsigned fn);
int fake_switch_down(struct fake_pci *f, int parent, unsigned slot, unsigned fn);
int fake_pcie_pci_bridge(struct fake_pci *f, int parent, unsigned slot, unsigned fn);
int fake_pci_bridge(struct fake_pci *f, int parent, unsigned slot, unsigned fn);
int fake_pxb(struct fake_pci *f, int parent, unsigned slot, unsigned fn);
int fake_igb(struct fake_pci *f, int parent, unsigned slot, unsigned fn, uint16_t total_vfs);

/* Builds a topology from QEMU -device lines (the --topology format) on top of q35.
 * Returns 0, or -1 for a line it does not understand (reported in err). */
int fake_from_qemu_args(struct fake_pci *f, const char *text, char *err, unsigned errlen);

/* Runs init/enumerate/assign/groups on a model with one host bridge per root. */
int fake_run(struct fake_pci *f, struct pci_system *sys, struct pci_dev *devs, unsigned max);
/* The iommu_group partition as sorted lines joined by '\n' (Linux's .groups format). */
void fake_groups_text(const struct pci_system *sys, char *buf, unsigned len);

#endif
