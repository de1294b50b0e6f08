/* Helpers shared by the PCI host tests. */
#ifndef MOAT_TESTS_HOST_PCI_TEST_UTIL_H
#define MOAT_TESTS_HOST_PCI_TEST_UTIL_H

#include <stdlib.h>

#include "tests/host/harness.h"
#include "tests/host/pci/fake_pci.h"

#define MAX_DEVS 2048

/* Group partitions are long: print both in full on a mismatch. */
#define CHECK_GROUPS(got, want)                                                 \
    do {                                                                        \
        const char *_g = (got), *_w = (want);                                   \
        if (strcmp(_g, _w) != 0) {                                              \
            printf("    groups got:\n%s    want:\n%s", _g, _w);                 \
            host_check_failed(__FILE__, __LINE__, "group partition differs");   \
        }                                                                       \
    } while (0)

struct topo {
    struct fake_pci f;
    struct pci_system sys;
    struct pci_dev *devs;
    int ngroups;
    char groups[16384];
};

static inline void topo_begin(struct topo *t)
{
    memset(t, 0, sizeof(*t));
    fake_init(&t->f);
    t->devs = calloc(MAX_DEVS, sizeof(struct pci_dev));
}

static inline int topo_run(struct topo *t)
{
    t->ngroups = fake_run(&t->f, &t->sys, t->devs, MAX_DEVS);
    if (t->ngroups >= 0)
        fake_groups_text(&t->sys, t->groups, sizeof(t->groups));
    return t->ngroups;
}

static inline int topo_from_args(struct topo *t, const char *args)
{
    char err[256];
    topo_begin(t);
    if (fake_from_qemu_args(&t->f, args, err, sizeof(err))) {
        printf("    %s\n", err);
        return -1;
    }
    return topo_run(t);
}

static inline void topo_end(struct topo *t)
{
    fake_free(&t->f);
    free(t->devs);
}

static inline struct pci_dev *topo_dev(struct topo *t, unsigned bus, unsigned slot, unsigned fn)
{
    return pci_get_dev(&t->sys, 0, (uint8_t)bus, PCI_DEVFN(slot, fn));
}

#endif
