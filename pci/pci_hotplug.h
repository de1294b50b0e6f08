/* PCIe native hot-plug (PCIe 6.0 §6.7) on Root and Downstream Ports with a hot-plug capable
 * slot, QEMU's pcie-root-port among them (image only).
 *
 * Events come by the port's interrupt, as in Linux's pciehp: its MSI-X entry or MSI message (the
 * one the PCIe capability's Interrupt Message Number names, through the IOMMU's interrupt
 * remapping or the GICv3 ITS), else its INTx line; Hot-Plug and Command Completed interrupts are
 * enabled. The handler only notes that the slot has work; pci_hotplug_poll() then reads that
 * slot's status, acknowledges exactly what it read, acts on it and reads again until no event
 * is left (a port sends a new message only once all its events were cleared). A slot without
 * an interrupt is polled: its status is read at every call ("pciehp_poll=0" turns that
 * fallback off, "pciehp_poll=1" polls every slot; "pciehp_msi=0" takes INTx over MSI/MSI-X).
 * Whoever waits for a device (a test, an appliance's main loop) calls pci_hotplug_poll, and so
 * does every wait of a program in poll(2) (moat_idle_work: at once after a slot interrupt,
 * else every 10 ms). Without a pending interrupt a call reads no configuration register: it
 * only compares the clock with the blink deadline (a removal asked for by the attention button
 * goes ahead after Linux's 5 s, or "pciehp_blink_ms=N") and asks a holder to let go.
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
    unsigned irqs;              /* slot interrupts taken */
    unsigned cc_missed;         /* commands whose completion interrupt did not come in time
                                 * (their completion was then read from the status) */
};
int pci_hotplug_slot_info(const struct pci_dev *port, struct pci_hotplug_slot_info *out);

/* Acts as if the slot below port had reported an attention-button press (the slot's state
 * machine, as for a press read from its status): for tests of the second press that cancels a
 * removal, which QEMU cannot make (it refuses device_del while the power indicator blinks).
 * 1 when a device was added or removed, 0 otherwise, -ENODEV when port has no slot. */
int pci_hotplug_press_button(const struct pci_dev *port);

#endif
