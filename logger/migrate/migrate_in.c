/*
 * Live migration, the destination (logger/migrate/migrate.h).  Everything here
 * comes off the wire: HELLO's configuration is checked field by field
 * before a machine is built from it, pages land only inside guest RAM
 * (migstream_read.c validates each batch whole first), and each state
 * blob passes its own loader's checks.  Any refusal is sent back as a NACK
 * so the source can say why, and the guest never runs here.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util/log.h"
#include "abi/boot.h"
#include "abi/pcache.h"
#include "logger/migrate/migctl.h"
#include "logger/migrate/migrate.h"
#include "util/time.h"
#include "vmm/vcpu_state.h"

/* Refuse: print the reason, tell the source, return err. */
static int refuse(struct migin *in, int err, const char *why)
{
	log_err("incoming migration refused: %s", why);
	migctl_send(in->fd, MIGCTL_NACK, 0, why);
	in->nacked = true;
	return err;
}

static bool str_ok(const char *s, size_t cap)
{
	size_t n = strnlen(s, cap);
	if (n == cap)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] < 0x20 || s[i] > 0x7e)
			return false;
	return true;
}

/* HELLO's configuration: what this end will build a machine from. */
static int check_cfg(const struct migrate_hello_cfg *c, uint64_t ram_size, char *why, size_t whylen)
{
	if (c->version != MIGRATE_CFG_VERSION) {
		snprintf(why, whylen, "configuration version %u, this dirtyscope reads %u",
			 c->version, MIGRATE_CFG_VERSION);
		return -EPROTO;
	}
	if (c->mem_bytes != ram_size || c->flags & ~MIGRATE_CFG_F_DISK ||
	    c->workload < ABI_WL_SEQ || c->workload > ABI_WL_LAST || c->epochs == 0 ||
	    c->hot_pct > 100 || c->policy > ABI_POLICY_LAST || c->nr_cpus == 0 ||
	    c->nr_cpus > ABI_MAX_CPUS || c->share_pct > 100 ||
	    !str_ok(c->workload_name, sizeof(c->workload_name)) ||
	    !str_ok(c->policy_name, sizeof(c->policy_name)) ||
	    !str_ok(c->image, sizeof(c->image)) ||
	    !!(c->flags & MIGRATE_CFG_F_DISK) != !!c->image[0] ||
	    !!(c->flags & MIGRATE_CFG_F_DISK) != !!c->image_size || c->image_size % 4096) {
		snprintf(why, whylen, "the source's configuration is malformed");
		return -EPROTO;
	}
	return 0;
}

int migin_open(struct migin *in, int fd)
{
	struct migstream_event ev;
	char why[320];

	memset(in, 0, sizeof(*in));
	in->fd = fd;
	int ret = migstream_reader_init(&in->r, fd, NULL);
	if (ret) {
		log_err("no memory for the migration stream");
		return ret;
	}
	ret = migstream_read(&in->r, &ev, why, sizeof(why));
	if (ret)
		return refuse(in, ret, why);
	in->t_hello = time_now_ns();
	if (ev.blob_len != sizeof(in->cfg))
		return refuse(in, -EPROTO, "the source's configuration has the wrong size");
	memcpy(&in->cfg, ev.blob, sizeof(in->cfg));
	in->ram_size = ev.ram_size;
	ret = check_cfg(&in->cfg, ev.ram_size, why, sizeof(why));
	if (ret)
		return refuse(in, ret, why);
	return 0;
}

void migin_workload(const struct migin *in, struct boot_workload *wl)
{
	const struct migrate_hello_cfg *h = &in->cfg;

	*wl = (struct boot_workload){.workload = h->workload,
				     .epochs = h->epochs,
				     .wss_pages = h->wss_pages,
				     .writes_per_epoch = h->writes_per_epoch,
				     .seed = h->seed,
				     .hot_pages = h->hot_pages,
				     .hot_pct = h->hot_pct,
				     .policy = h->policy,
				     .flush_every = h->flush_every,
				     .cache_pages = h->cache_pages,
				     .sync_every = h->sync_every,
				     .flags = h->boot_flags,
				     .nr_cpus = h->nr_cpus,
				     .share_pct = h->share_pct};
}

void migin_close(struct migin *in)
{
	migin_verify_finish(in); /* the verifier reads through the reader */
	migstream_reader_destroy(&in->r);
}

/* The state blobs, kept until END has proved the RAM right. */
struct blobs {
	struct vcpu_state vcpu[ABI_MAX_CPUS];
	struct virtio_blk_state blk;
	struct serial_state serial;
	struct migrate_session_state sess;
	uint32_t nr_vcpu; /* VCPU records taken, in order */
	bool have_blk, have_serial, have_sess;
};

static int take_state(struct blobs *b, uint32_t nr_cpus, const struct migstream_event *ev,
		      char *why, size_t whylen)
{
	void *dst;
	size_t len;
	bool *have, more;

	switch (ev->state_kind) {
	case MIGRATE_STATE_VCPU:
		/* One record per vCPU the configuration named, vCPU 0 first. */
		if (b->nr_vcpu >= nr_cpus) {
			snprintf(why, whylen, "state kind %u: more vCPU states than the %u vCPUs",
				 ev->state_kind, nr_cpus);
			return -EPROTO;
		}
		more = false;
		dst = &b->vcpu[b->nr_vcpu], len = sizeof(b->vcpu[0]), have = &more;
		break;
	case MIGRATE_STATE_BLK:
		dst = &b->blk, len = sizeof(b->blk), have = &b->have_blk;
		break;
	case MIGRATE_STATE_SERIAL:
		dst = &b->serial, len = sizeof(b->serial), have = &b->have_serial;
		break;
	case MIGRATE_STATE_SESSION:
		dst = &b->sess, len = sizeof(b->sess), have = &b->have_sess;
		break;
	default:
		snprintf(why, whylen, "unknown state kind %u", ev->state_kind);
		return -EPROTO;
	}
	if (*have || ev->blob_len != len) {
		snprintf(why, whylen, "state kind %u: %s (%u bytes, expected %zu)", ev->state_kind,
			 *have ? "sent twice" : "wrong size", ev->blob_len, len);
		return -EPROTO;
	}
	memcpy(dst, ev->blob, len);
	*have = true;
	if (ev->state_kind == MIGRATE_STATE_VCPU)
		b->nr_vcpu++;
	return 0;
}

/* Load every blob.  Order: the device before the vCPU, so that a refused
 * device never leaves a vCPU loaded; the session last (it reads RAM). */
static int load_blobs(struct blobs *b, struct vm *vm, migin_session_load load, void *ctx, char *why,
		      size_t whylen)
{
	char r[256];
	int ret;

	if (b->nr_vcpu != vm->nr_vcpus || !b->have_serial || !b->have_sess ||
	    b->have_blk != !!vm->blk) {
		snprintf(why, whylen,
			 "the stream lacks a state blob (vCPUs %u of %u, serial %d, session %d, "
			 "disk %d for a machine %s a disk)",
			 b->nr_vcpu, vm->nr_vcpus, b->have_serial, b->have_sess, b->have_blk,
			 vm->blk ? "with" : "without");
		return -EPROTO;
	}
	if (vm->blk && (ret = virtio_blk_state_load(vm->blk, &b->blk, r, sizeof(r)))) {
		snprintf(why, whylen, "virtio-blk state: %s", r);
		return -EPROTO;
	}
	for (uint32_t i = 0; i < vm->nr_vcpus; i++)
		if ((ret = vcpu_state_load(&vm->vcpus[i], &b->vcpu[i], r, sizeof(r)))) {
			snprintf(why, whylen, "vCPU %u state: %s", i, r);
			return -EPROTO;
		}
	/* The guest started its other vCPUs at the source: they run at once. */
	vm->aps_up = vm->nr_vcpus > 1;
	if ((ret = serial_state_load(&vm->serial, &b->serial, sizeof(b->serial), r, sizeof(r)))) {
		snprintf(why, whylen, "%s", r);
		return -EPROTO;
	}
	return load(ctx, &b->sess, why, whylen);
}

/*
 * The verifier: from GO on, beside the running guest, read the source's
 * VERDICT and compare it with the RAM received (the reader's page hashes,
 * kept as pages arrived: what the guest does to its RAM since does not
 * matter).  On a mismatch, or no VERDICT at all, the guest here runs on RAM
 * nobody vouches for: it is stopped (the vCPU kicked, the session ends the
 * run) and the source hears why.
 */
static void *verifier_main(void *arg)
{
	struct migin *in = arg;
	struct migstream_event ev;
	char why[320];

	int ret = migstream_read(&in->r, &ev, why, sizeof(why));
	if (!ret && ev.type != MIGSTREAM_EV_VERDICT) {
		snprintf(why, sizeof(why), "migration stream: no VERDICT after END");
		ret = -EPROTO;
	}
	in->stats.verify_ns = time_now_ns() - in->t_go;
	in->stats.bytes = in->r.stats.bytes;
	in->stats.records = in->r.stats.records;
	if (!ret) {
		in->stats.ram_checksum = ev.ram_checksum;
		in->stats.verified = true;
		migctl_send(in->fd, MIGCTL_VERIFIED, ev.ram_checksum, NULL);
		return NULL;
	}
	snprintf(in->stats.verify_failure, sizeof(in->stats.verify_failure), "%s", why);
	in->verify_err = ret == -EPROTO ? -EPROTO : -ECONNRESET;
	__atomic_store_n(&in->verify_failed, 1, __ATOMIC_SEQ_CST);
	vm_kick(in->vm);
	log_err("incoming migration: verification failed: %s; the guest, running here since "
		"GO, is stopped",
		why);
	migctl_send(in->fd, MIGCTL_NACK, 0, why);
	return NULL;
}

bool migin_verify_failed(struct migin *in)
{
	return __atomic_load_n(&in->verify_failed, __ATOMIC_SEQ_CST);
}

int migin_verify_finish(struct migin *in)
{
	if (in->verifier_started) {
		pthread_join(in->verifier, NULL);
		in->verifier_started = false;
	}
	return in->resumed ? in->verify_err : 0;
}

int migin_load(struct migin *in, struct vm *vm, migin_session_load load, void *ctx)
{
	struct migstream_event ev;
	struct blobs *b = calloc(1, sizeof(*b));
	char why[320];
	int ret;

	if (!b) {
		log_err("no memory for the incoming state");
		return -ENOMEM;
	}
	migstream_reader_set_mem(&in->r, &vm->mem);
	/* Nothing wrote this machine's RAM: it was created for the guest. */
	if (migstream_reader_fresh(&in->r)) {
		free(b);
		log_err("no memory for the incoming page hashes");
		return -ENOMEM;
	}
	for (;;) {
		ret = migstream_read(&in->r, &ev, why, sizeof(why));
		if (ret)
			goto refused;
		if (ev.type == MIGSTREAM_EV_STATE &&
		    (ret = take_state(b, in->cfg.nr_cpus, &ev, why, sizeof(why))))
			goto refused;
		if (ev.type == MIGSTREAM_EV_END)
			break;
	}
	uint64_t t_end = time_now_ns();
	uint64_t end_csum = ev.end_csum;
	in->stats.receive_ns = t_end - in->t_hello;
	ret = load_blobs(b, vm, load, ctx, why, sizeof(why));
	if (ret)
		goto refused;
	free(b);
	b = NULL;
	in->stats.bytes = in->r.stats.bytes;
	in->stats.records = in->r.stats.records;
	in->stats.pages = in->r.stats.pages;
	in->stats.zero_pages = in->r.stats.zero_pages;
	in->stats.rounds = in->r.stats.rounds;

	/* Ready: say so, and run only on the source's GO. */
	if (in->test_drop_before_ack) {
		log_err("incoming migration: test: hanging up before ACK");
		shutdown(in->fd, SHUT_RDWR);
		return -ECONNRESET;
	}
	ret = migctl_send(in->fd, MIGCTL_ACK, end_csum, NULL);
	uint64_t t_ack = time_now_ns();
	in->stats.load_ns = t_ack - t_end;
	if (ret) {
		log_err("incoming migration: sending ACK: %s; the guest stays "
			"with the source",
			strerror(-ret));
		return -ECONNRESET;
	}
	uint32_t type;
	uint64_t arg;
	char reason[MIGCTL_MAX_REASON + 1];
	ret = migctl_recv(in->fd, &type, &arg, reason, sizeof(reason), why, sizeof(why));
	if (!ret && (type != MIGCTL_GO || arg != end_csum)) {
		snprintf(why, sizeof(why),
			 "the source answered the ACK with something other than GO");
		ret = -EPROTO;
	}
	if (ret) {
		log_err("incoming migration: %s; the guest stays with the source", why);
		return ret == -EAGAIN ? -ECONNRESET : ret;
	}
	in->t_go = time_now_ns();
	in->stats.handshake_ns = in->t_go - t_ack;
	in->resumed = true;
	/* The guest runs from here on; the RAM it arrived with is checked
	 * meanwhile, against the source's late VERDICT. */
	in->vm = vm;
	ret = pthread_create(&in->verifier, NULL, verifier_main, in);
	if (ret) {
		/* Unverified RAM must not run: stop the guest at once. */
		snprintf(in->stats.verify_failure, sizeof(in->stats.verify_failure),
			 "cannot start the verifier: %s", strerror(ret));
		in->verify_err = -ret;
		__atomic_store_n(&in->verify_failed, 1, __ATOMIC_SEQ_CST);
		vm_kick(vm);
		return 0;
	}
	in->verifier_started = true;
	return 0;

refused:
	free(b);
	return refuse(in, ret, why);
}
