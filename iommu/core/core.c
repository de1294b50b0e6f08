/* The vendor-neutral IOMMU core: unit registry, which domain each device is attached to, the
 * one fault printer, and the loaders through which drivers read caller data (the size rules of
 * copy_struct_from_user, in one place). */
#include "iommu/core/direct.h"
#include "iommu/iommu.h"
#include "lib/errno.h"
#include "lib/log.h"
#include "lib/string.h"
#include "pci/pci.h"

#define CORE_MAX_DEVS 1024
#define FAULT_PRINT_FIRST 32            /* per device, then one line per 1024 */

static struct iommu_unit *units;

struct dev_link {
    const struct pci_dev *dev;
    struct iommu_domain *domain;
};
static struct dev_link links[CORE_MAX_DEVS];
static unsigned nr_links;

struct fault_counter {
    uint16_t seg, rid;
    bool used;
    uint64_t count;
};
static struct fault_counter fault_counters[64];
static uint64_t total_faults;

void iommu_register_unit(struct iommu_unit *u)
{
    struct iommu_unit **pp = &units;
    while (*pp)
        pp = &(*pp)->next;
    u->next = NULL;
    *pp = u;
}

struct iommu_unit *iommu_first_unit(void)
{
    return units;
}

int iommu_ioapic_compose(unsigned ioapic_id, unsigned vector, uint32_t dest, bool level,
                         uint64_t *addr, uint32_t *data)
{
    for (struct iommu_unit *u = units; u; u = u->next) {
        if (!u->ops->ioapic_compose)
            continue;
        int err = u->ops->ioapic_compose(u, ioapic_id, vector, dest, level, addr, data);
        if (err != -ENODEV)
            return err;
    }
    return -EOPNOTSUPP;
}

int iommu_msi_compose(struct pci_dev *dev, unsigned vector, uint32_t dest, uint64_t *addr,
                      uint32_t *data)
{
    struct iommu_unit *u = iommu_unit_for(dev);
    if (!u || !u->ops->msi_compose)
        return -EOPNOTSUPP;
    return u->ops->msi_compose(u, dev, vector, dest, addr, data);
}

void iommu_msi_free(struct pci_dev *dev, uint64_t addr, uint32_t data)
{
    struct iommu_unit *u = iommu_unit_for(dev);
    if (u && u->ops->msi_free)
        u->ops->msi_free(u, dev, addr, data);
}

struct iommu_unit *iommu_unit_for(const struct pci_dev *dev)
{
    for (struct iommu_unit *u = units; u; u = u->next)
        if (u->serves(u, dev))
            return u;
    return NULL;
}

static struct dev_link *link_of(const struct pci_dev *dev, bool create)
{
    for (unsigned i = 0; i < nr_links; i++)
        if (links[i].dev == dev)
            return &links[i];
    if (!create || nr_links == CORE_MAX_DEVS)
        return NULL;
    links[nr_links].dev = dev;
    links[nr_links].domain = NULL;
    return &links[nr_links++];
}

struct iommu_domain *iommu_dev_domain(const struct pci_dev *dev)
{
    struct dev_link *l = link_of(dev, false);
    if (l && l->domain)
        return l->domain;
    struct iommu_unit *u = iommu_unit_for(dev);
    return u ? u->blocked : NULL;
}

int iommu_domain_alloc(struct iommu_unit *u, enum iommu_domain_type type,
                       const struct iommu_domain_cfg *cfg, struct iommu_domain **out)
{
    static const struct iommu_domain_cfg none;
    int err = u->ops->domain_alloc(u, type, cfg ? cfg : &none, out);
    if (err)
        return err;
    (*out)->unit = u;
    (*out)->type = type;
    return 0;
}

void iommu_domain_free(struct iommu_domain *d)
{
    if (!d)
        return;
    MOAT_ASSERT(d->nr_devs == 0);
    MOAT_ASSERT(d != d->unit->blocked);
    if (d->type == IOMMU_DOMAIN_PAGING)
        iommu_direct_undo(d, 0);
    d->unit->ops->domain_free(d);
}

int iommu_attach(struct iommu_domain *d, struct pci_dev *dev)
{
    struct iommu_unit *u = iommu_unit_for(dev);
    if (!u)
        return -ENODEV;
    if (!d)
        d = u->blocked;
    if (d->unit != u)
        return -EINVAL;
    struct dev_link *l = link_of(dev, true);
    if (!l)
        return -ENOSPC;
    struct iommu_domain *old = l->domain ? l->domain : u->blocked;
    if (old == d)
        return 0;
    /* Firmware's 1:1 ranges are in the domain before any context entry points there. */
    unsigned mark;
    int err = iommu_direct_check_blocked(d, dev);
    if (!err)
        err = iommu_direct_map(d, dev, &mark);
    if (err)
        return err;
    err = u->ops->attach_dev(d, dev);
    if (err) {
        iommu_direct_undo(d, mark);
        return err;
    }
    old->nr_devs--;
    d->nr_devs++;
    l->domain = d;
    return 0;
}

int iommu_map(struct iommu_domain *d, uint64_t iova, uint64_t pa, uint64_t size, uint32_t prot)
{
    if (d->type != IOMMU_DOMAIN_PAGING)
        return -EINVAL;
    return d->unit->ops->map(d, iova, pa, size, prot);
}

int iommu_unmap(struct iommu_domain *d, uint64_t iova, uint64_t size)
{
    if (d->type != IOMMU_DOMAIN_PAGING)
        return -EINVAL;
    return d->unit->ops->unmap(d, iova, size);
}

void iommu_gather_init(struct pgtable_gather *g)
{
    pgtable_gather_init(g);
}

int iommu_unmap_gather(struct iommu_domain *d, uint64_t iova, uint64_t size,
                       struct pgtable_gather *g)
{
    if (d->type != IOMMU_DOMAIN_PAGING)
        return -EINVAL;
    if (!d->unit->ops->unmap_gather)
        return d->unit->ops->unmap(d, iova, size);
    return d->unit->ops->unmap_gather(d, iova, size, g);
}

void iommu_gather_sync(struct iommu_domain *d, struct pgtable_gather *g)
{
    if (d->type == IOMMU_DOMAIN_PAGING && d->unit->ops->gather_sync)
        d->unit->ops->gather_sync(d, g);
}

int iommu_populate(struct iommu_domain *d, uint64_t iova, uint64_t size)
{
    if (d->type != IOMMU_DOMAIN_PAGING)
        return -EINVAL;
    return pgtable_populate(&d->pt, iova, size);
}

int iommu_iova_to_phys(struct iommu_domain *d, uint64_t iova, uint64_t *pa)
{
    if (d->type == IOMMU_DOMAIN_IDENTITY) {
        *pa = iova;
        return 0;
    }
    if (d->type != IOMMU_DOMAIN_PAGING)
        return -ENOENT;
    struct pgtable_xlate x;
    int err = pgtable_translate(&d->pt, iova, &x);
    if (err)
        return err;
    *pa = x.pa;
    return 0;
}

static struct fault_counter *fault_counter(uint16_t seg, uint16_t rid)
{
    unsigned h = (rid * 31u + seg) % ARRAY_SIZE(fault_counters);
    for (unsigned i = 0; i < ARRAY_SIZE(fault_counters); i++) {
        struct fault_counter *c = &fault_counters[(h + i) % ARRAY_SIZE(fault_counters)];
        if (!c->used) {
            *c = (struct fault_counter){ seg, rid, true, 0 };
            return c;
        }
        if (c->seg == seg && c->rid == rid)
            return c;
    }
    return &fault_counters[h];      /* table full: share a counter, still rate-limited */
}

static struct pci_dev *dev_of_rid(uint16_t seg, uint16_t rid)
{
    for (unsigned i = 0; i < nr_links; i++) {
        const struct pci_dev *p = links[i].dev;
        if (p->seg == seg && p->bus == (rid >> 8) && p->devfn == (rid & 0xff))
            return (struct pci_dev *)p;
    }
    return NULL;
}

void iommu_report_fault(struct iommu_unit *u, const struct iommu_fault *f)
{
    total_faults++;
    struct fault_counter *c = fault_counter(f->seg, f->rid);
    uint64_t n = ++c->count;
    if (n <= FAULT_PRINT_FIRST || n % 1024 == 0) {
        kprintf("dma fault: dev %04x:%02x:%02x.%x iova %#llx %s reason %u (%s)",
                f->seg, f->rid >> 8, (f->rid >> 3) & 0x1f, f->rid & 7,
                (unsigned long long)f->addr, f->write ? "write" : "read", f->reason,
                f->text ? f->text : "unknown");
        if (n > FAULT_PRINT_FIRST)
            kprintf(" [%llu faults from this device, the rest not printed]",
                    (unsigned long long)n);
        kprintf("\n");
    }
    struct pci_dev *dev = dev_of_rid(f->seg, f->rid);
    struct iommu_domain *d = dev ? iommu_dev_domain(dev) : NULL;
    if (d) {
        d->nr_faults++;
        if (d->fault_fn)
            d->fault_fn(d, f, d->fault_ctx);
    }
}

uint64_t iommu_msi_address(struct pci_dev *dev, uint64_t pa)
{
    struct iommu_unit *u = iommu_unit_for(dev);
    return u && u->ops->msi_address ? u->ops->msi_address(u, dev, pa) : pa;
}

uint64_t iommu_fault_count(void)
{
    return total_faults;
}

int iommu_user_load(void *dst, size_t size, size_t min, const void *src, size_t len)
{
    const uint8_t *s = src;
    if (len < min)
        return ERR(-EINVAL);
    for (size_t i = size; i < len; i++)
        if (s[i])
            return ERR(-E2BIG);
    memset(dst, 0, size);
    memcpy(dst, src, MIN(size, len));
    return 0;
}

int iommu_user_array_load(void *dst, size_t size, size_t min, const struct iommu_user_array *a,
                          uint32_t i)
{
    MOAT_ASSERT(i < a->entry_num);
    return iommu_user_load(dst, size, min, (const uint8_t *)a->buf + (size_t)i * a->entry_len,
                           a->entry_len);
}
