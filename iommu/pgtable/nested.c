/* Nested (stage-1 over stage-2) helpers: stage-1 tables whose own pages live at stage-2 input
 * addresses, and a software two-stage walk that reads them the way the IOMMU does. */
#include "iommu/pgtable/pt_internal.h"
#include "lib/string.h"

/* ---- stage-1 table pages carved from a caller-owned arena ---- */

static void *arena_alloc(void *ctx, size_t size, uint64_t *pa)
{
    struct pgtable_nested_arena *a = ctx;
    void *va;

    if (size != PGTABLE_GRANULE)
        return NULL;
    if (a->free_list) {
        va = a->free_list;
        a->free_list = *(void **)va;
    } else {
        if (a->size - a->used < size)
            return NULL;
        va = (char *)a->va + a->used;
        a->used += size;
    }
    memset(va, 0, size);
    *pa = a->ipa + (uint64_t)((char *)va - (char *)a->va);
    return va;
}

/* Called after the flush, so the page is no longer walked and may hold the free link. */
static void arena_free(void *ctx, void *va, uint64_t pa, size_t size)
{
    struct pgtable_nested_arena *a = ctx;

    *(void **)va = a->free_list;
    a->free_list = va;
}

static void *arena_phys_to_virt(void *ctx, uint64_t ipa)
{
    struct pgtable_nested_arena *a = ctx;

    MOAT_ASSERT(ipa >= a->ipa && ipa - a->ipa < a->size);
    return (char *)a->va + (ipa - a->ipa);
}

static void arena_clean(void *ctx, const void *va, size_t len)
{
    struct pgtable_nested_arena *a = ctx;

    a->clean_ops->clean(a->clean_ctx, va, len);
}

static const struct pgtable_mem_ops arena_ops = {
    .alloc = arena_alloc,
    .free = arena_free,
    .phys_to_virt = arena_phys_to_virt,
    .clean = arena_clean,
};

/* The walker reads stage-1 tables through stage 2 and the leaves' owner writes through it too,
 * so every arena page must be readable and writable there. */
static int arena_check_s2(const struct pgtable_nested_arena *a, const struct pgtable *s2)
{
    for (uint64_t off = 0; off < a->size; off += PGTABLE_GRANULE) {
        struct pgtable_xlate x;
        int ret = pgtable_translate(s2, a->ipa + off, &x);
        if (ret)
            return ret;
        if ((x.prot & (PGTABLE_PROT_READ | PGTABLE_PROT_WRITE)) !=
            (PGTABLE_PROT_READ | PGTABLE_PROT_WRITE))
            return ERR(-ENOENT);
    }
    return 0;
}

int pgtable_nested_s1_init(struct pgtable *s1, const struct pgtable_cfg *cfg,
                           struct pgtable_nested_arena *arena, const struct pgtable *s2,
                           const struct pgtable_flush_ops *flush, void *flush_ctx)
{
    struct pgtable_cfg c;
    uint64_t arena_last;
    int ret;

    if (!cfg || (cfg->fmt != PGTABLE_FMT_X86_64 && cfg->fmt != PGTABLE_FMT_ARM_S1))
        return ERR(-EINVAL);
    if (!arena || !arena->size || !IS_ALIGNED((uintptr_t)arena->va | arena->ipa | arena->size,
                                              PGTABLE_GRANULE))
        return ERR(-EINVAL);
    if ((cfg->flags & PGTABLE_CFG_NONCOHERENT) && (!arena->clean_ops || !arena->clean_ops->clean))
        return ERR(-EINVAL);
    if (__builtin_add_overflow(arena->ipa, arena->size - 1, &arena_last))
        return ERR(-EOVERFLOW);
    if (arena_last > s2->ia_last)
        return ERR(-ERANGE);
    ret = arena_check_s2(arena, s2);
    if (ret)
        return ret;
    c = *cfg;
    /* Stage-1 outputs (and its table addresses) are stage-2 inputs. */
    if (!c.oas)
        c.oas = MIN(s2->ias, cfg->fmt == PGTABLE_FMT_ARM_S1 ? pt_fmt_arm_s1.oa_bits
                                                             : pt_fmt_x86_64.oa_bits);
    arena->used = 0;
    arena->free_list = NULL;
    return pgtable_init(s1, &c, &arena_ops, arena, flush, flush_ctx);
}

/* ---- the two-stage walk ---- */

/* Reads the stage-1 entry at ipa as the IOMMU does: through stage 2, which must allow reads. */
static int nested_read(const struct pgtable *s2, uint64_t ipa,
                       void *(*phys_to_virt)(void *ctx, uint64_t pa), void *ctx, uint64_t *e)
{
    struct pgtable_xlate x;
    int ret = pgtable_translate(s2, ipa, &x);

    if (ret)
        return ret;
    if (!(x.prot & PGTABLE_PROT_READ))
        return ERR(-EACCES);
    *e = __atomic_load_n((const uint64_t *)phys_to_virt(ctx, x.pa), __ATOMIC_RELAXED);
    return 0;
}

static int nested_leaf(const struct pgtable *s2, uint64_t ipa, uint64_t s1_size,
                       uint32_t s1_prot, struct pgtable_xlate *out)
{
    struct pgtable_xlate x;
    int ret = pgtable_translate(s2, ipa, &x);

    if (ret)
        return ret;
    out->pa = x.pa;
    out->pgsize = MIN(s1_size, x.pgsize);
    out->prot = s1_prot & x.prot & (PGTABLE_PROT_READ | PGTABLE_PROT_WRITE);
    return 0;
}

int pgtable_nested_translate(const struct pgtable *s1, const struct pgtable *s2, uint64_t iova,
                             void *(*phys_to_virt)(void *ctx, uint64_t pa), void *ctx,
                             struct pgtable_xlate *out)
{
    uint64_t table_ipa = s1->root_pa;

    if (iova > s1->ia_last)
        return ERR(-ERANGE);
    for (unsigned int level = s1->levels - 1;; level--) {
        uint64_t e, addr;
        uint32_t prot;
        int ret = nested_read(s2, table_ipa + 8ULL * pt_index(s1, level, iova), phys_to_virt,
                              ctx, &e);
        if (ret)
            return ret;
        switch (s1->ops->decode(s1, level, e, &addr, &prot)) {
        case PT_EMPTY:
            return ERR(-ENOENT);
        case PT_LEAF:
            return nested_leaf(s2, addr | (iova & (pt_lvl_size(s1, level) - 1)),
                               pt_lvl_size(s1, level), prot, out);
        case PT_TABLE:
            table_ipa = addr;
            break;
        }
    }
}
