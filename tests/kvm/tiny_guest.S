/* A real-mode guest for the host /dev/kvm tests (tests/kvm/). Loaded at
 * 0x1000 and entered at 0000:1000. It reports through two in-core test
 * ports: every byte written to 0xF4 is recorded, a write to 0xF5 ends the
 * run. What it checks:
 *   1. a forwarded write + read of the serial scratch register (SCR)
 *   2. a forwarded read of LSR (THRE|TEMT after reset)
 *   3. an interrupt from the serial device process through its irqfd
 *      (THRE interrupt, IRQ 4 via the in-kernel PIC) reaches the guest */
        .code16
        .text
        .globl _start
_start:
        xor %ax, %ax
        mov %ax, %ds
        mov %ax, %ss
        mov $0x8000, %sp

        mov $0x3ff, %dx          /* 1. SCR */
        mov $0x5a, %al
        out %al, %dx
        in %dx, %al
        mov $0xf4, %dx
        out %al, %dx

        mov $0x3fd, %dx          /* 2. LSR */
        in %dx, %al
        mov $0xf4, %dx
        out %al, %dx

        /* 3. IVT entry for vector 0x0C (IRQ 4 with the master PIC at 0x08) */
        movw $(handler - _start + 0x1000), 0x30
        movw $0, 0x32
        mov $0x11, %al           /* ICW1: edge, cascade, ICW4 */
        out %al, $0x20
        mov $0x08, %al           /* ICW2: vector base 0x08 */
        out %al, $0x21
        mov $0x04, %al           /* ICW3: slave on IRQ2 */
        out %al, $0x21
        mov $0x01, %al           /* ICW4: 8086 mode */
        out %al, $0x21
        mov $0xef, %al           /* OCW1: only IRQ 4 unmasked */
        out %al, $0x21
        mov $0x3fc, %dx          /* MCR: OUT2 (the PC's interrupt gate) */
        mov $0x08, %al
        out %al, %dx
        sti
        mov $0x3f9, %dx          /* IER: THRE interrupt; THR is empty, so it fires */
        mov $0x02, %al
        out %al, %dx
wait:
        hlt
        jmp wait

handler:
        mov $0x3fa, %dx          /* IIR: which interrupt (reading clears THRE) */
        in %dx, %al
        mov $0xf4, %dx
        out %al, %dx
        mov $0x20, %al           /* EOI to the PIC */
        out %al, $0x20
        mov $0xf5, %dx           /* done */
        out %al, %dx
        cli
1:      hlt
        jmp 1b
