/* PCIe native hot-plug (PCIe 6.0 §6.7) on Root and Downstream Ports with a hot-plug capable
 * slot, QEMU's pcie-root-port among them (image only).
 *
 * Events are polled: pci_hotplug_poll() reads every slot's status, acts on what changed and
 * returns. The port's MSI/MSI-X is not wired yet, so whoever waits for a device (a test, an
 * appliance's main loop) calls it, and so does every wait of a program in poll(2) (at most
 * every 10 ms: moat_idle_work); an event is seen at the first call after it happened, and a
 * removal asked for by the attention button completes at the first call after the blink wait
 * (Linux's 5 s, or "pciehp_blink_ms=N" on the command line).
 *
 * Adding: presence (or link) up on a powered-off slot -> power on, wait for the link (bounded),
 * 100 ms, enumerate the secondary bus, place BARs in the port's padded windows, group the new
 * functions (they may join an existing group), print them and their group, then offer each to
 * the registered drivers with the boot's rules (driver_may_bind). Until a driver binds, a
 * function stays in its IOMMU unit's blocking domain.
 * Removing (attention button, or presence lost): drivers' remove, every function back to the
 * blocking domain and bus mastering off, the subtree forgotten, then slot power off, which is
 * what lets QEMU finish device_del. */
#ifndef MOAT_PCI_PCI_HOTPLUG_H
#define MOAT_PCI_PCI_HOTPLUG_H

#include "pci/pci.h"

struct pci_hotplug_driver {
    const char *name;                                  /* as in drivers= */
    int (*probe)(struct pci_system *sys, struct pci_dev *dev);   /* -ENODEV: not mine */
    /* Ends the device's I/O (-ENODEV to whatever was outstanding), quiesces it and gives back
     * every mapping; called while the device may already be gone. */
    void (*remove)(struct pci_system *sys, struct pci_dev *dev);
};

/* A driver that handles devices arriving after boot (call from its init unit). */
int pci_hotplug_register_driver(const struct pci_hotplug_driver *drv);


/* Handles every pending slot event; returns how many devices were added or removed. */
int pci_hotplug_poll(void);

enum pci_slot_state { PCI_SLOT_OFF, PCI_SLOT_ON, PCI_SLOT_BLINK_OFF, PCI_SLOT_WAIT_RELEASE };

/* The slot below port (NULL when port has none), its state and counters. */
struct pci_hotplug_slot_info {
    enum pci_slot_state state;
    unsigned added, removed, cancelled, failed;
};
int pci_hotplug_slot_info(const struct pci_dev *port, struct pci_hotplug_slot_info *out);

#endif
