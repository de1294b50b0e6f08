/* The flattened device tree reader: one validating pass in fdt_open, then walks that trust only
 * what that pass checked (and still check every offset they compute). */
#include "kernel/fdt/fdt.h"
#include "lib/errno.h"
#include "lib/string.h"

#define FDT_BEGIN_NODE 1u
#define FDT_END_NODE 2u
#define FDT_PROP 3u
#define FDT_NOP 4u
#define FDT_END 9u
#define FDT_HEADER_SIZE 40u
#define FDT_LAST_COMP_VERSION 16u

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

uint64_t fdt_cells(const void *p, unsigned n)
{
    const uint8_t *b = p;
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++)
        v = v << 32 | be32(b + 4 * i);
    return v;
}

/* The token at structure offset off; FDT_END when off is outside the block. */
static uint32_t token(const struct fdt *f, uint32_t off)
{
    if (off > f->struct_size || f->struct_size - off < 4)
        return FDT_END;
    return be32(f->blob + f->struct_off + off);
}

/* Length of the NUL-terminated string at p with at most max bytes readable; max when none. */
static uint32_t bounded_len(const uint8_t *p, uint32_t max)
{
    const uint8_t *z = memchr(p, 0, max);
    return z ? (uint32_t)(z - p) : max;
}

static int refuse(struct fdt *f, const char *why)
{
    f->error = why;
    return -EINVAL;
}

/* The one validating walk over the structure block. */
static int check_structure(struct fdt *f)
{
    const uint8_t *s = f->blob + f->struct_off;
    uint32_t off = 0, depth = 0;
    bool seen_root = false;
    for (;;) {
        if (f->struct_size - off < 4)
            return refuse(f, "structure block ends without an END token");
        uint32_t tok = be32(s + off);
        off += 4;
        switch (tok) {
        case FDT_BEGIN_NODE: {
            if (depth == 0 && seen_root)
                return refuse(f, "second root node");
            if (++depth > FDT_MAX_DEPTH)
                return refuse(f, "nodes nested too deep");
            seen_root = true;
            uint32_t room = f->struct_size - off;
            uint32_t n = bounded_len(s + off, MIN(room, (uint32_t)FDT_MAX_NAME));
            if (n == room)
                return refuse(f, "node name past the structure block");
            if (n == FDT_MAX_NAME)
                return refuse(f, "node name too long");
            off += ALIGN_UP(n + 1, 4u);
            if (off > f->struct_size)
                return refuse(f, "node name past the structure block");
            break;
        }
        case FDT_END_NODE:
            if (depth == 0)
                return refuse(f, "END_NODE without a node");
            depth--;
            break;
        case FDT_PROP: {
            if (depth == 0)
                return refuse(f, "property outside any node");
            if (f->struct_size - off < 8)
                return refuse(f, "property header past the structure block");
            uint32_t len = be32(s + off), nameoff = be32(s + off + 4);
            off += 8;
            if (len > f->struct_size - off)
                return refuse(f, "property past the structure block");
            if (nameoff >= f->strings_size)
                return refuse(f, "property name offset past the strings block");
            uint32_t room = f->strings_size - nameoff;
            uint32_t n = bounded_len(f->blob + f->strings_off + nameoff,
                                     MIN(room, (uint32_t)FDT_MAX_NAME));
            if (n == room)
                return refuse(f, "property name past the strings block");
            if (n == FDT_MAX_NAME)
                return refuse(f, "property name too long");
            off += ALIGN_UP(len, 4u);
            if (off > f->struct_size)
                return refuse(f, "property past the structure block");
            break;
        }
        case FDT_NOP:
            /* Every accessor names the root node 0, as libfdt does: a NOP before it would hide
             * the whole tree behind an empty root. */
            if (!seen_root)
                return refuse(f, "structure block does not begin with the root node");
            break;
        case FDT_END:
            if (depth != 0)
                return refuse(f, "END token inside an open node");
            if (!seen_root)
                return refuse(f, "no root node");
            return 0;
        default:
            return refuse(f, "unknown structure token");
        }
    }
}

int fdt_open(struct fdt *f, const void *blob, uint64_t avail)
{
    memset(f, 0, sizeof(*f));
    f->blob = blob;
    if (!blob || avail < FDT_HEADER_SIZE)
        return refuse(f, "blob smaller than the header");
    if (!IS_ALIGNED((uintptr_t)blob, 8))
        return refuse(f, "blob not 8-byte aligned");
    const uint8_t *h = blob;
    if (be32(h) != FDT_MAGIC)
        return refuse(f, "bad magic");
    uint32_t total = be32(h + 4), off_struct = be32(h + 8), off_strings = be32(h + 12);
    uint32_t off_rsv = be32(h + 16), version = be32(h + 20), last_comp = be32(h + 24);
    uint32_t size_strings = be32(h + 32), size_struct = be32(h + 36);
    if (version < 17 || last_comp > FDT_LAST_COMP_VERSION + 1)
        return refuse(f, "unsupported version (moat reads 17)");
    if (!IS_ALIGNED(off_struct, 4) || !IS_ALIGNED(size_struct, 4))
        return refuse(f, "structure block not 4-byte aligned");
    if (!IS_ALIGNED(off_rsv, 8))
        return refuse(f, "reservation block not 8-byte aligned");
    if (total < FDT_HEADER_SIZE || total > avail)
        return refuse(f, "totalsize past the blob");
    if (off_struct > total || size_struct > total - off_struct)
        return refuse(f, "structure block past totalsize");
    if (off_strings > total || size_strings > total - off_strings)
        return refuse(f, "strings block past totalsize");
    if (off_rsv < FDT_HEADER_SIZE || off_rsv > total)
        return refuse(f, "reservation block past totalsize");
    f->size = total;
    f->struct_off = off_struct;
    f->struct_size = size_struct;
    f->strings_off = off_strings;
    f->strings_size = size_strings;
    f->rsvmap_off = off_rsv;
    /* The reservation block ends with an all-zero entry inside the blob. */
    for (uint32_t o = off_rsv;; o += 16) {
        if (total - o < 16)
            return refuse(f, "reservation block has no terminating entry");
        if (fdt_cells(h + o, 2) == 0 && fdt_cells(h + o + 8, 2) == 0)
            break;
    }
    return check_structure(f);
}

bool fdt_rsv(const struct fdt *f, unsigned i, uint64_t *base, uint64_t *size)
{
    uint64_t o = f->rsvmap_off;
    for (unsigned k = 0;; k++, o += 16) {
        if (o + 16 > f->size)
            return false;
        uint64_t b = fdt_cells(f->blob + o, 2), s = fdt_cells(f->blob + o + 8, 2);
        if (b == 0 && s == 0)
            return false;
        if (k == i) {
            *base = b;
            *size = s;
            return true;
        }
    }
}

/* The offset just past the token at off (which must be a valid token), and its kind. */
static uint32_t skip_token(const struct fdt *f, uint32_t off, uint32_t *tok)
{
    *tok = token(f, off);
    const uint8_t *s = f->blob + f->struct_off;
    switch (*tok) {
    case FDT_BEGIN_NODE:
        return off + 4 + ALIGN_UP(bounded_len(s + off + 4, f->struct_size - off - 4) + 1, 4u);
    case FDT_PROP:
        return off + 12 + ALIGN_UP(be32(s + off + 4), 4u);
    case FDT_END:
        return f->struct_size;
    default:
        return off + 4;
    }
}

const char *fdt_node_name(const struct fdt *f, int node)
{
    if (node < 0 || token(f, (uint32_t)node) != FDT_BEGIN_NODE)
        return NULL;
    return (const char *)f->blob + f->struct_off + node + 4;
}

/* The offset of the first token after node's header and its properties. */
static uint32_t after_props(const struct fdt *f, int node, uint32_t *tok)
{
    uint32_t off = skip_token(f, (uint32_t)node, tok);
    for (;;) {
        uint32_t next = skip_token(f, off, tok);
        if (*tok != FDT_PROP && *tok != FDT_NOP)
            return off;
        off = next;
    }
}

/* The offset just past node's END_NODE. */
static uint32_t node_end(const struct fdt *f, int node)
{
    uint32_t tok, off = skip_token(f, (uint32_t)node, &tok), depth = 1;
    while (depth && off < f->struct_size) {
        off = skip_token(f, off, &tok);
        if (tok == FDT_BEGIN_NODE)
            depth++;
        else if (tok == FDT_END_NODE)
            depth--;
        else if (tok == FDT_END)
            break;
    }
    return off;
}

int fdt_first_child(const struct fdt *f, int node)
{
    if (!fdt_node_name(f, node))
        return -1;
    uint32_t tok, off = after_props(f, node, &tok);
    return tok == FDT_BEGIN_NODE ? (int)off : -1;
}

int fdt_next_sibling(const struct fdt *f, int node)
{
    if (!fdt_node_name(f, node) || node == 0)
        return -1;
    uint32_t tok, off = node_end(f, node);
    for (;;) {
        uint32_t next = skip_token(f, off, &tok);
        if (tok != FDT_NOP)
            return tok == FDT_BEGIN_NODE ? (int)off : -1;
        off = next;
    }
}

int fdt_parent(const struct fdt *f, int node)
{
    if (node <= 0 || !fdt_node_name(f, node))
        return -1;
    /* Walk from the root, keeping the open nodes; the tree is at most FDT_MAX_DEPTH deep. */
    int stack[FDT_MAX_DEPTH + 1];
    int depth = 0;
    uint32_t tok, off = 0;
    while (off < f->struct_size) {
        if ((int)off == node)
            return depth > 0 ? stack[depth - 1] : -1;
        uint32_t next = skip_token(f, off, &tok);
        if (tok == FDT_BEGIN_NODE) {
            if (depth > FDT_MAX_DEPTH)
                return -1;
            stack[depth++] = (int)off;
        } else if (tok == FDT_END_NODE) {
            if (depth-- == 0)
                return -1;
        } else if (tok == FDT_END) {
            break;
        }
        off = next;
    }
    return -1;
}

const void *fdt_prop(const struct fdt *f, int node, const char *name, uint32_t *len)
{
    if (!fdt_node_name(f, node))
        return NULL;
    uint32_t tok, off = skip_token(f, (uint32_t)node, &tok);
    for (;;) {
        uint32_t next = skip_token(f, off, &tok);
        if (tok == FDT_NOP) {
            off = next;
            continue;
        }
        if (tok != FDT_PROP)
            return NULL;
        const uint8_t *p = f->blob + f->struct_off + off;
        uint32_t plen = be32(p + 4), nameoff = be32(p + 8);
        if (nameoff < f->strings_size) {
            const char *pn = (const char *)f->blob + f->strings_off + nameoff;
            if (strncmp(pn, name, f->strings_size - nameoff) == 0) {
                if (len)
                    *len = plen;
                return p + 12;
            }
        }
        off = next;
    }
}

const char *fdt_prop_str(const struct fdt *f, int node, const char *name)
{
    uint32_t len;
    const char *s = fdt_prop(f, node, name, &len);
    if (!s || len == 0 || s[len - 1] != '\0')
        return NULL;
    return s;
}

bool fdt_prop_u32(const struct fdt *f, int node, const char *name, uint32_t *out)
{
    uint32_t len;
    const void *p = fdt_prop(f, node, name, &len);
    if (!p || len != 4)
        return false;
    *out = (uint32_t)fdt_cells(p, 1);
    return true;
}

bool fdt_is_compatible(const struct fdt *f, int node, const char *compat)
{
    uint32_t len;
    const char *s = fdt_prop(f, node, "compatible", &len);
    if (!s)
        return false;
    size_t want = strlen(compat);
    for (uint32_t at = 0; at < len;) {
        uint32_t n = bounded_len((const uint8_t *)s + at, len - at);
        if (n == want && memcmp(s + at, compat, n) == 0 && at + n < len)
            return true;
        at += n + 1;
    }
    return false;
}

int fdt_next_compatible(const struct fdt *f, int prev, const char *compat)
{
    uint32_t tok, off = 0;
    if (prev >= 0) {
        if (!fdt_node_name(f, prev))
            return -1;
        off = skip_token(f, (uint32_t)prev, &tok);
    }
    while (off < f->struct_size) {
        uint32_t next = skip_token(f, off, &tok);
        if (tok == FDT_END)
            break;
        if (tok == FDT_BEGIN_NODE && fdt_is_compatible(f, (int)off, compat))
            return (int)off;
        off = next;
    }
    return -1;
}

/* Whether a node name matches one path component (with or without its unit address). */
static bool name_matches(const char *node_name, const char *comp, size_t n)
{
    if (strncmp(node_name, comp, n) != 0)
        return false;
    return node_name[n] == '\0' || (node_name[n] == '@' && memchr(comp, '@', n) == NULL);
}

int fdt_path(const struct fdt *f, const char *path)
{
    if (!path || path[0] != '/')
        return -1;
    int node = 0;
    const char *p = path;
    while (*p == '/')
        p++;
    while (*p && node >= 0) {
        const char *slash = strchr(p, '/');
        size_t n = slash ? (size_t)(slash - p) : strlen(p);
        int found = -1;
        for (int c = fdt_first_child(f, node); c >= 0; c = fdt_next_sibling(f, c)) {
            if (name_matches(fdt_node_name(f, c), p, n)) {
                found = c;
                break;
            }
        }
        node = found;
        p += n;
        while (*p == '/')
            p++;
    }
    return node;
}

int fdt_by_phandle(const struct fdt *f, uint32_t phandle)
{
    if (phandle == 0 || phandle == 0xffffffffu)
        return -1;
    uint32_t tok, off = 0;
    while (off < f->struct_size) {
        uint32_t next = skip_token(f, off, &tok);
        if (tok == FDT_END)
            break;
        uint32_t v;
        if (tok == FDT_BEGIN_NODE && fdt_prop_u32(f, (int)off, "phandle", &v) && v == phandle)
            return (int)off;
        off = next;
    }
    return -1;
}

void fdt_reg_cells(const struct fdt *f, int node, uint32_t *addr_cells, uint32_t *size_cells)
{
    int parent = fdt_parent(f, node);
    *addr_cells = 2;
    *size_cells = 1;
    if (parent < 0)
        return;
    fdt_prop_u32(f, parent, "#address-cells", addr_cells);
    fdt_prop_u32(f, parent, "#size-cells", size_cells);
}

bool fdt_reg(const struct fdt *f, int node, unsigned i, uint64_t *base, uint64_t *size)
{
    uint32_t ac, sc, len;
    fdt_reg_cells(f, node, &ac, &sc);
    if (ac < 1 || ac > 2 || sc > 2)
        return false;
    const uint8_t *p = fdt_prop(f, node, "reg", &len);
    uint32_t entry = 4 * (ac + sc);
    if (!p || len / entry <= i)
        return false;
    p += (uint64_t)i * entry;
    *base = fdt_cells(p, ac);
    *size = sc ? fdt_cells(p + 4 * ac, sc) : 0;
    return true;
}
