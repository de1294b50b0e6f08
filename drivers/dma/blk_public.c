/* The appliance-facing accessors of <moat/blk.h>. */
#include "drivers/dma/blk.h"
#include "moat/blk.h"

uint32_t moat_blk_lba_size(const struct blk_dev *b)
{
    return b->lba_size;
}

uint64_t moat_blk_nlba(const struct blk_dev *b)
{
    return b->nlba;
}

uint32_t moat_blk_max_io(const struct blk_dev *b)
{
    return b->max_io;
}

void moat_blk_set_strict(struct blk_dev *b, int strict)
{
    blk_set_mode(b, strict ? BLK_DMA_STRICT : BLK_DMA_POOLED);
}
