/* The image services the VFIO face stands on, modelled for host tests (vfio_host.h). */
#include "tests/host/api/vfio_host.h"

#include "arch/arch.h"
#include "arch/x86_64/msi.h"
#include "iommu/vfio/vfio_private.h"
#include "kernel/fd.h"
#include "kernel/vm.h"
#include "pci/pci_platform.h"
#include "pci/pci_regs.h"

uint8_t vh_cfg[NDEVS][4096];
int vh_live_vectors;
unsigned vh_sriov_calls;

static int dev_at(uint16_t seg, uint8_t bus, uint8_t devfn)
{
    for (int i = 0; i < NDEVS; i++)
        if (api_devs[i].seg == seg && api_devs[i].bus == bus && api_devs[i].devfn == devfn)
            return i;
    return -1;
}

static uint32_t cfg_read(void *ctx, uint16_t seg, uint8_t bus, uint8_t devfn, uint16_t off,
                         unsigned width)
{
    int i = dev_at(seg, bus, devfn);
    uint32_t v = 0;
    if (i < 0 || off + width > sizeof(vh_cfg[0]))
        return ~0u;
    memcpy(&v, &vh_cfg[i][off], width);
    return v;
}

static void cfg_write(void *ctx, uint16_t seg, uint8_t bus, uint8_t devfn, uint16_t off,
                      unsigned width, uint32_t val)
{
    int i = dev_at(seg, bus, devfn);
    if (i >= 0 && off + width <= sizeof(vh_cfg[0]))
        memcpy(&vh_cfg[i][off], &val, width);
}

static const struct pci_cfg_ops cfg_ops = { .read = cfg_read, .write = cfg_write };
static struct pci_system vh_sys = { .ops = &cfg_ops, .devs = api_devs, .ndevs = NDEVS,
                                    .max_devs = NDEVS };

struct pci_system *platform_pci(void)
{
    return &vh_sys;
}

/* ---- CPU memory: one address space, identity translation; BARs are host buffers ---- */

int vm_virt_to_phys(const void *va, uint64_t *pa)
{
    *pa = (uint64_t)(uintptr_t)va;
    return 0;
}

uint64_t vm_phys_run(const void *va, uint64_t len, uint64_t *pa)
{
    *pa = (uint64_t)(uintptr_t)va;
    return len;
}

/* Every page the tests hand in is the program's and writable (kernel/vm's own rules are
 * test_api_boundary's). */
int vm_dma_pin(const void *va, uint64_t len, int prot, bool allow_bar, uint64_t *pa)
{
    *pa = (uint64_t)(uintptr_t)va;
    return 0;
}

int vm_map_mmio(uint64_t pa, size_t len, int prot, void **out)
{
    *out = (void *)(uintptr_t)pa;
    return 0;
}

void *mmio_map(uint64_t pa, uint64_t size)
{
    return (void *)(uintptr_t)pa;
}

void vm_set_pinned_query(vm_pinned_fn fn)
{
}

/* ---- interrupts: counted ---- */

int irq_alloc_vector(irq_handler_fn fn, void *ctx)
{
    vh_live_vectors++;
    return 0x40 + vh_live_vectors;
}

void irq_free_vector(unsigned vector)
{
    vh_live_vectors--;
}

int msi_compose(struct pci_dev *dev, unsigned vector, struct msi_msg *m)
{
    m->addr = 0xfee00000;
    m->data = vector;
    return 0;
}

void msi_free(struct pci_dev *dev, const struct msi_msg *m)
{
}

/* INTx (vfio_intx.c stands on the I/O APIC): the line is usable when the pin is set; the
 * requests themselves are not modelled. */
unsigned vfio_intx_count(struct vfio_device *vd)
{
    return !vd->pdev->is_virtfn && vh_cfg[vd->pdev - api_devs][PCI_INTERRUPT_PIN] ? 1 : 0;
}

long vfio_intx_set_irqs(struct vfio_device *vd, const struct vfio_irq_set *h, unsigned long data)
{
    return -ENOSYS;
}

void vfio_intx_disable(struct vfio_device *vd)
{
}

void vfio_intx_follow_virtual(struct vfio_device *vd)
{
}

/* ---- the devices ---- */

static void *bar_memory(size_t size)
{
    static void *edu, *nvme;
    void **p = size == (1u << 20) ? &edu : &nvme;
    if (!*p)
        *p = aligned_alloc(4096, size);
    memset(*p, 0, size);
    return *p;
}

static void put16(uint8_t *c, unsigned off, uint16_t v)
{
    memcpy(c + off, &v, 2);
}

static void put32(uint8_t *c, unsigned off, uint32_t v)
{
    memcpy(c + off, &v, 4);
}

static void edu_setup(struct pci_dev *d, uint8_t *c)
{
    put32(c, PCI_VENDOR_ID, 0x11e81234);
    put16(c, PCI_STATUS, PCI_STATUS_CAP_LIST);
    c[PCI_CAPABILITY_LIST] = 0x40;
    c[PCI_INTERRUPT_PIN] = 1;
    c[0x40] = PCI_CAP_ID_MSI;
    put16(c, 0x42, 0x0080);                         /* 64-bit, one vector */
    d->caps.msi = 0x40;
    d->cfg_size = 256;
    d->bar[0] = (struct pci_bar){ (uint64_t)(uintptr_t)bar_memory(1u << 20), 1u << 20,
                                  PCI_BAR_ASSIGNED };
    put32(c, 0x10, (uint32_t)d->bar[0].base);
}

static void nvme_setup(struct pci_dev *d, uint8_t *c)
{
    put32(c, PCI_VENDOR_ID, 0x00101b36);
    put16(c, PCI_STATUS, PCI_STATUS_CAP_LIST);
    c[PCI_CAPABILITY_LIST] = 0x40;
    c[PCI_INTERRUPT_PIN] = 1;
    c[0x40] = PCI_CAP_ID_MSIX;
    c[0x41] = 0x80;
    put16(c, 0x42, 63);                             /* 64 entries */
    put32(c, 0x44, 0x2000);                         /* table: BAR0 + 0x2000 */
    put32(c, 0x48, 0x3000);                         /* PBA: BAR0 + 0x3000 */
    c[0x80] = PCI_CAP_ID_EXP;
    put16(c, 0x82, 0x0002);                         /* version 2, endpoint */
    d->caps.msix = 0x40;
    d->caps.exp = 0x80;
    d->flr = true;
    d->cfg_size = 4096;
    d->bar[0] = (struct pci_bar){ (uint64_t)(uintptr_t)bar_memory(16384), 16384,
                                  PCI_BAR_ASSIGNED | PCI_BAR_MEM64 };
    put32(c, 0x10, (uint32_t)d->bar[0].base | 4);
    put32(c, 0x14, (uint32_t)(d->bar[0].base >> 32));
}

void vh_setup(struct api_base *b)
{
    static bool registered;
    api_setup(b);
    memset(vh_cfg, 0, sizeof(vh_cfg));
    edu_setup(&api_devs[VH_EDU], vh_cfg[VH_EDU]);
    nvme_setup(&api_devs[VH_NVME], vh_cfg[VH_NVME]);
    vh_live_vectors = 0;
    if (!registered) {
        registered = true;
        vfio_register_nodes();
        /* the face keeps each group's state once made, and the descriptor table grows once */
        static const int gs[] = { 1, 2, 3, VH_PF_GROUP, VH_VF_GROUP };
        for (unsigned i = 0; i < sizeof(gs) / sizeof(gs[0]); i++) {
            int g = gs[i];
            char path[32];
            snprintf(path, sizeof(path), "/dev/vfio/%d", g);
            int fd = sys_open(path, 0);
            REQUIRE(fd >= 0);
            sys_close(fd);
        }
    }
    b->heap = heap_live_bytes();
    b->pmm = pmm_free_bytes();
}

/* ---- SR-IOV: the runtime's enable/disable (pci/pci_hotplug.c), modelled on one VF ---- */

int pci_sriov_set_numvfs(struct pci_dev *pf, unsigned num_vfs)
{
    if (pf != &api_devs[VH_PF] || !pf->caps.sriov)
        return -ENODEV;
    if (num_vfs > pf->total_vfs)
        return -ERANGE;
    if (num_vfs == pf->num_vfs)
        return (int)num_vfs;
    if (num_vfs && pf->num_vfs)
        return -EBUSY;
    if (!num_vfs && vfio_device_held(&api_devs[VH_VF]))
        return -EBUSY;      /* the runtime asks its holder (the VFIO face) the same */
    vh_sriov_calls++;
    api_devs[VH_VF].gone = num_vfs == 0;
    pf->num_vfs = (uint16_t)num_vfs;
    return (int)num_vfs;
}

void vh_sriov_setup(void)
{
    struct pci_dev *pf = &api_devs[VH_PF], *vf = &api_devs[VH_VF];
    pf->caps.sriov = 0x160;
    pf->total_vfs = 2;
    pf->num_vfs = 0;
    pf->cfg_size = 4096;
    put32(vh_cfg[VH_PF], PCI_VENDOR_ID, 0x10c98086);
    mock_pci_dev(vf, 1, 1, 0x10, VH_VF_GROUP);
    vf->is_virtfn = true;
    vf->physfn = VH_PF;
    vf->vendor = 0x8086;
    vf->device = 0x10ca;
    vf->gone = true;
    vf->cfg_size = 4096;
    put32(vh_cfg[VH_VF], PCI_VENDOR_ID, 0xffffffff);   /* a VF's ID registers read all ones */
    vh_sriov_calls = 0;
    vfio_sriov_leaving(pf);
}
