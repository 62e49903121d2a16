/*
 * QEMU's dirty-rate calculation through libvirt (virt_dirtyrate.h).
 */
#include <errno.h>
#include <libvirt/virterror.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"
#include "util/time.h"
#include "virt/virt_conn.h"
#include "virt/virt_dirtyrate.h"
#include "virt/virt_domain.h"

static const struct {
	const char *name;
	unsigned int flag;
} modes[VIRT_DR_NR] = {
    [VIRT_DR_PAGE_SAMPLING] = {"page-sampling", VIR_DOMAIN_DIRTYRATE_MODE_PAGE_SAMPLING},
    [VIRT_DR_DIRTY_BITMAP] = {"dirty-bitmap", VIR_DOMAIN_DIRTYRATE_MODE_DIRTY_BITMAP},
    [VIRT_DR_DIRTY_RING] = {"dirty-ring", VIR_DOMAIN_DIRTYRATE_MODE_DIRTY_RING},
};

const char *virt_dr_mode_name(enum virt_dr_mode m)
{
	return m < VIRT_DR_NR ? modes[m].name : "?";
}

int virt_dr_mode_parse(const char *s, enum virt_dr_mode *m)
{
	for (int i = 0; i < VIRT_DR_NR; i++)
		if (!strcmp(s, modes[i].name)) {
			*m = (enum virt_dr_mode)i;
			return 0;
		}
	return -EINVAL;
}

/*
 * Whether libvirt's refusal to start means "this cannot be measured here":
 * libvirt's own checks (no such QEMU capability, a ring mode on a domain
 * without the ring) come as unsupported-operation codes; QEMU's refusal of
 * dirty-bitmap on a domain with the ring comes back as an internal error
 * whose message says the mode is not enabled, the only sign there is.
 */
static int refusal_is_unsupported(void)
{
	int code = virt_err_code();
	return code == VIR_ERR_OPERATION_UNSUPPORTED || code == VIR_ERR_ARGUMENT_UNSUPPORTED ||
	       code == VIR_ERR_NO_SUPPORT ||
	       (code == VIR_ERR_INTERNAL_ERROR && strstr(virt_err(), "not enabled"));
}

/* A numeric typed parameter as a double; 0 when it is not a number. */
static int param_num(const virTypedParameter *p, double *v)
{
	switch (p->type) {
	case VIR_TYPED_PARAM_INT: *v = p->value.i; return 1;
	case VIR_TYPED_PARAM_UINT: *v = p->value.ui; return 1;
	case VIR_TYPED_PARAM_LLONG: *v = (double)p->value.l; return 1;
	case VIR_TYPED_PARAM_ULLONG: *v = (double)p->value.ul; return 1;
	default: return 0;
	}
}

/* The domain's dirty-rate statistics: 0 with *status (-1 when absent)
 * and the rates filled, or -ENOENT/-EIO. */
static int read_stats(virDomainPtr d, int *status, char *mode, size_t mode_len,
		      struct virt_dr_result *r)
{
	virDomainPtr doms[] = {d, NULL};
	virDomainStatsRecordPtr *recs = NULL;
	int n = virDomainListGetStats(doms, VIR_DOMAIN_STATS_DIRTYRATE, &recs, 0);
	if (n < 0)
		return virt_err_code() == VIR_ERR_NO_DOMAIN ||
			       virt_err_code() == VIR_ERR_OPERATION_INVALID
			   ? -ENOENT
			   : -EIO;
	*status = -1;
	mode[0] = '\0';
	r->nr_vcpus = 0;
	for (int i = 0; n > 0 && i < recs[0]->nparams; i++) {
		const virTypedParameter *p = &recs[0]->params[i];
		unsigned v;
		double x;
		if (!strcmp(p->field, "dirtyrate.calc_status") && param_num(p, &x))
			*status = (int)x;
		else if (!strcmp(p->field, "dirtyrate.calc_mode") &&
			 p->type == VIR_TYPED_PARAM_STRING)
			snprintf(mode, mode_len, "%s", p->value.s);
		else if (!strcmp(p->field, "dirtyrate.megabytes_per_second") && param_num(p, &x))
			r->mibs = x;
		else if (sscanf(p->field, "dirtyrate.vcpu.%u.megabytes_per_second", &v) == 1 &&
			 param_num(p, &x)) {
			if (v < VIRT_DR_MAX_VCPUS) {
				r->vcpu_mibs[v] = x;
				if (v + 1 > r->nr_vcpus)
					r->nr_vcpus = v + 1;
			}
		}
	}
	virDomainStatsRecordListFree(recs);
	return 0;
}

int virt_dirtyrate_measure(virDomainPtr d, enum virt_dr_mode m, unsigned calc_s,
			   struct virt_dr_result *r, volatile sig_atomic_t *stop)
{
	char mode[32];
	int status, ret;
	/* Taken first: every libvirt call clears the thread's last error. */
	const char *name = virDomainGetName(d);

	memset(r, 0, sizeof(*r));
	r->mode = m;
	if (m >= VIRT_DR_NR || calc_s < 1 || calc_s > VIRT_DR_MAX_CALC_S)
		return -EINVAL;
	/* QEMU's dirty-bitmap mode reads KVM's dirty log and assumes there is
	 * one: asked on a domain under QEMU's emulator (TCG), Debian 12's QEMU
	 * 7.2 crashes and the domain is gone.  Measuring must never end the
	 * domain it measures, so the mode is refused here, before QEMU. */
	if (m == VIRT_DR_DIRTY_BITMAP) {
		int kvm = virt_domain_kvm(d);
		if (kvm == -EIO)
			log_err("domain %s: reading its XML: %s", name, virt_err());
		if (kvm < 0)
			return kvm;
		if (!kvm) {
			r->status = VIRT_DR_UNSUPPORTED;
			snprintf(r->why, sizeof(r->why),
				 "the domain runs under QEMU's emulator, not KVM: dirty-bitmap "
				 "needs KVM's dirty log (and QEMU 7.2 crashes when asked)");
			return 0;
		}
	}
	uint64_t a = time_now_ns();
	if (virDomainStartDirtyRateCalc(d, (int)calc_s, modes[m].flag) < 0) {
		if (virt_err_code() == VIR_ERR_NO_DOMAIN ||
		    virt_err_code() == VIR_ERR_OPERATION_INVALID)
			return -ENOENT;
		if (!refusal_is_unsupported()) {
			log_err("domain %s: starting a %s calculation: %s", name,
				modes[m].name, virt_err());
			return -EIO;
		}
		r->status = VIRT_DR_UNSUPPORTED;
		snprintf(r->why, sizeof(r->why), "%s", virt_err());
		return 0;
	}
	uint64_t b = time_now_ns();
	/* QEMU starts its window while answering the command; the midpoint
	 * is within half the round trip (well under a millisecond here). */
	r->t0_ns = a + (b - a) / 2;
	r->t1_ns = r->t0_ns + calc_s * 1000000000ULL;
	uint64_t give_up = r->t1_ns + 10000000000ULL;
	/* The status reads "measuring" from the start until the result is
	 * in; a result read earlier would be the previous calculation's. */
	while (time_now_ns() < r->t1_ns) {
		if (*stop)
			return -EINTR;
		time_sleep_ns(50000000ULL);
	}
	for (;;) {
		if ((ret = read_stats(d, &status, mode, sizeof(mode), r))) {
			if (ret == -EIO)
				log_err("domain %s: reading dirty-rate statistics: %s",
					name, virt_err());
			return ret;
		}
		if (status == VIR_DOMAIN_DIRTYRATE_MEASURED && !strcmp(mode, modes[m].name))
			break;
		uint64_t now = time_now_ns();
		if (now >= give_up) {
			r->status = VIRT_DR_STALLED;
			snprintf(r->why, sizeof(r->why),
				 "no result %.1f s after the start of a %u s calculation",
				 (double)(now - r->t0_ns) / 1e9, calc_s);
			return 0;
		}
		if (*stop)
			return -EINTR;
		time_sleep_ns(50000000ULL);
	}
	r->wait_ns = time_now_ns() - r->t0_ns;
	r->status = VIRT_DR_MEASURED;
	return 0;
}
