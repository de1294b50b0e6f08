/* A flattened device tree (devicetree specification v0.4, chapter 5) read in place. fdt_open
 * checks the whole blob once: header, every token, name, property length and string offset,
 * nesting depth; a blob that passes can be walked without further bounds surprises, and every
 * accessor still checks what it reads. Nodes are named by the offset of their BEGIN_NODE token
 * in the structure block; the root is node 0. */
#ifndef MOAT_KERNEL_FDT_FDT_H
#define MOAT_KERNEL_FDT_FDT_H

#include "lib/compiler.h"

#define FDT_MAGIC 0xd00dfeedu
#define FDT_MAX_DEPTH 32            /* virt's tree is 5 deep */
#define FDT_MAX_NAME 256            /* node names and property names, with the NUL */
#define FDT_MAX_PHANDLE_HOPS 16     /* interrupt-parent and similar chains */

struct fdt {
    const uint8_t *blob;
    uint32_t size;                  /* totalsize */
    uint32_t struct_off, struct_size;
    uint32_t strings_off, strings_size;
    uint32_t rsvmap_off;
    const char *error;              /* what fdt_open refused, by name */
};

/* Validates blob (at most avail bytes readable). 0, or -EINVAL with f->error naming what is
 * wrong ("bad magic", "property past the structure block", ...). */
int fdt_open(struct fdt *f, const void *blob, uint64_t avail);

/* Reading a validated tree. Offsets are nodes; -1 means none. */
const char *fdt_node_name(const struct fdt *f, int node);
int fdt_first_child(const struct fdt *f, int node);
int fdt_next_sibling(const struct fdt *f, int node);
int fdt_parent(const struct fdt *f, int node);
/* The next node in document order after prev (-1: start at the root) that is compatible with
 * compat (one of its "compatible" strings equals it). */
int fdt_next_compatible(const struct fdt *f, int prev, const char *compat);
bool fdt_is_compatible(const struct fdt *f, int node, const char *compat);
/* A node by absolute path ("/chosen", "/intc@8000000/its@8080000"); a unit address may be left
 * out when the name without it is unique among its siblings. */
int fdt_path(const struct fdt *f, const char *path);
int fdt_by_phandle(const struct fdt *f, uint32_t phandle);

/* The property's value and length, or NULL. */
const void *fdt_prop(const struct fdt *f, int node, const char *name, uint32_t *len);
/* A string property (checked to end in NUL inside its value), or NULL. */
const char *fdt_prop_str(const struct fdt *f, int node, const char *name);
/* A one-cell property; false when absent or not 4 bytes. */
bool fdt_prop_u32(const struct fdt *f, int node, const char *name, uint32_t *out);
/* #address-cells / #size-cells that apply to node's reg (its parent's, defaults 2 and 1). */
void fdt_reg_cells(const struct fdt *f, int node, uint32_t *addr_cells, uint32_t *size_cells);
/* Entry i of node's reg: false when absent, or the cells do not fit 64 bits. */
bool fdt_reg(const struct fdt *f, int node, unsigned i, uint64_t *base, uint64_t *size);

/* Memory reservation block entry i (firmware's reserved ranges); false past the end. */
bool fdt_rsv(const struct fdt *f, unsigned i, uint64_t *base, uint64_t *size);

/* Reads n (1 or 2) big-endian cells. */
uint64_t fdt_cells(const void *p, unsigned n);

#endif
