/*
 * Inter-processor interrupts through the in-kernel LAPIC, measured: a test
 * of the platform, run when the boot parameters carry
 * ABI_BOOT_F_TEST_IPI (tests only; the VMM then creates KVM's in-kernel
 * irqchip).  The shootdown a page cleaned on one CPU needs on the others
 * is an IPI, so whether the platform delivers them, and how fast, comes
 * first.
 *
 * Every CPU turns its LAPIC to x2APIC mode (MSRs, no MMIO page to map).
 * The other CPUs wait with interrupts on in `hlt`; CPU 0 sends each of them
 * IPI_ROUNDS IPIs, one at a time, timing each from the ICR write until the
 * target's handler has counted it (TSC cycles), and logs the count and the
 * mean and largest round trip.  An IPI that does not arrive within
 * IPI_SPIN_MAX polls is a panic: the platform does not deliver them.
 */
#include "defs.h"
#include "smp.h"
#include "x86.h"

#define MSR_APIC_BASE	  0x1b
#define APIC_BASE_EN	  (1ull << 11)
#define APIC_BASE_X2APIC  (1ull << 10)
#define MSR_X2APIC_EOI	  0x80b
#define MSR_X2APIC_SVR	  0x80f
#define MSR_X2APIC_ICR	  0x830
#define IPI_ROUNDS	  200
#define IPI_SPIN_MAX	  100000000ull

static volatile uint64_t received[ABI_MAX_CPUS];
static volatile uint32_t ready; /* CPUs other than 0 with their LAPIC on */
static volatile uint32_t done;

/* This CPU's LAPIC in x2APIC mode, software-enabled, spurious vector
 * SPURIOUS_VECTOR.  Every CPU of a run with several calls it once. */
void lapic_init(void)
{
	uint32_t ecx;
	__asm__ volatile("cpuid" : "=c"(ecx) : "a"(1), "c"(0) : "ebx", "edx");
	if (!(ecx & (1u << 21)))
		panic("the CPU has no x2APIC: no IPIs");
	wrmsr(MSR_APIC_BASE, rdmsr(MSR_APIC_BASE) | APIC_BASE_EN | APIC_BASE_X2APIC);
	wrmsr(MSR_X2APIC_SVR, 0x100 | SPURIOUS_VECTOR);
}

/*
 * From ipi_entry, interrupts off, on whatever stack the CPU was on (a
 * process's kernel stack when it came from user mode): count it, answer a
 * TLB shootdown if one waits for this CPU, acknowledge it.  A wake-up of
 * an idle CPU needs nothing more: its `hlt` has ended.
 */
void ipi_handler(void)
{
	received[cpu_id()]++;
	tlb_shootdown_answer();
	wrmsr(MSR_X2APIC_EOI, 0);
}

/* CPUs other than 0: take IPIs until CPU 0 is done (its last one wakes us). */
void ipi_ap_wait(void)
{
	lapic_init();
	__atomic_add_fetch(&ready, 1, __ATOMIC_RELEASE);
	/* An IPI between the count and `sti` waits in the LAPIC, and `sti`
	 * holds interrupts off for one more instruction: the `hlt` it ends. */
	while (!done)
		__asm__ volatile("sti; hlt; cli" ::: "memory");
}

/* Send IPI_VECTOR to CPU cpu.  x2APIC IDs are KVM's vCPU ids, which are
 * our CPU numbers. */
void ipi_send(uint32_t cpu)
{
	wrmsr(MSR_X2APIC_ICR, (uint64_t)cpu << 32 | IPI_VECTOR);
}

void ipi_measure(uint32_t nr_cpus)
{
	lapic_init();
	while (__atomic_load_n(&ready, __ATOMIC_ACQUIRE) != nr_cpus - 1)
		cpu_relax();
	for (uint32_t c = 1; c < nr_cpus; c++) {
		uint64_t sum = 0, most = 0;
		for (uint64_t i = 0; i < IPI_ROUNDS; i++) {
			uint64_t want = received[c] + 1, spins = 0, t0 = rdtsc();
			ipi_send(c);
			while (received[c] < want)
				if (++spins == IPI_SPIN_MAX)
					panic("IPI test: IPI %lu to CPU %u never arrived (%lu of %lu "
					      "did)",
					      i + 1, c, received[c], i);
				else
					cpu_relax();
			uint64_t dt = rdtsc() - t0;
			sum += dt;
			most = dt > most ? dt : most;
		}
		klog("ipi: %u of %u delivered to CPU %u, round trip %lu TSC cycles on average, "
		     "%lu at most",
		     IPI_ROUNDS, IPI_ROUNDS, c, sum / IPI_ROUNDS, most);
	}
	done = 1;
	for (uint32_t c = 1; c < nr_cpus; c++)
		ipi_send(c); /* out of their wait */
}
