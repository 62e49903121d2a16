/*
 * Live migration, pre-copy: both ends, as the session sees them.
 *
 * Source (logger/migrate/migrate_out.c).  When the session closes epoch
 * `after_epoch` it starts a migration thread.  That thread connects, sends
 * all of RAM (round 0) while the guest runs, then round after round the
 * pages the dirty log reports written since their last copy, until the
 * rest fits the downtime limit at the measured bandwidth (or max_rounds).
 * Then it kicks the vCPU thread, which parks the vCPU and saves vCPU,
 * device and session state; the thread sends the last dirty pages, the
 * state and END, and waits for the destination's ACK.  Only after sending
 * GO does the source stop for good; on any failure before that the guest
 * resumes here, nothing lost, and the thread retries later.
 *
 * One dirty log feeds two consumers: the session's epochs and the
 * migration's rounds.  Every harvest, by either thread, goes through
 * migout_harvest, which hands each page to both (docs/migration.md).
 *
 * Destination (logger/migrate/migrate_in.c).  `dirtyscope receive` accepts one
 * connection, reads HELLO (the run's configuration), builds the same
 * machine and lets the session load RAM and state from the stream instead
 * of booting; the guest runs on from where it stopped.
 */
#ifndef LOGGER_MIGRATE_H
#define LOGGER_MIGRATE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "logger/dlog/dlog.h"
#include "logger/dlog/frameset.h"
#include "logger/migrate/migaddr.h"
#include "logger/migrate/migstream.h"
#include "util/report.h"
#include "vmm/boot.h"
#include "vmm/vm.h"

#define MIGRATE_DEFAULT_DOWNTIME_MS 300
#define MIGRATE_DEFAULT_MAX_ROUNDS  30
#define MIGRATE_DEFAULT_RETRIES	    3
#define MIGRATE_CONNECT_MS	    5000  /* connect timeout */
#define MIGRATE_IO_MS		    30000 /* a peer silent this long is gone */
#define MIGRATE_THROTTLE_INITIAL    20	  /* percent, as QEMU's auto-converge */
#define MIGRATE_THROTTLE_STEP	    10
#define MIGRATE_THROTTLE_MAX	    99
#define MIGRATE_THROTTLE_SLICE_MS   10 /* the vCPU runs/sleeps in slices of this */
#define MIGRATE_DEFAULT_DIRTY_LIMIT_MIBS 1 /* --throttle dirty-limit without --dirty-limit */

/* STATE record kinds. */
#define MIGRATE_STATE_VCPU    1 /* struct vcpu_state */
#define MIGRATE_STATE_BLK     2 /* struct virtio_blk_state */
#define MIGRATE_STATE_SERIAL  3 /* struct serial_state */
#define MIGRATE_STATE_SESSION 4 /* struct migrate_session_state */

struct migrate_config {
	struct migaddr to;
	uint64_t after_epoch;	    /* start when this epoch closes (0: at READY) */
	uint64_t downtime_limit_ms; /* switch over when the rest fits this */
	uint64_t max_rounds;	    /* rounds before the final one, at most */
	uint64_t max_bandwidth;	    /* bytes per second; 0 unlimited */
	bool throttle_auto;	    /* slow the vCPU down when it outruns the link */
	/* Or, with --throttle dirty-limit, the same trigger turns the
	 * session's per-vCPU dirty limit on (logger/session_limit.c). */
	bool throttle_dirty_limit;
	uint32_t retries;	    /* attempts after a failed one */
	uint32_t retry_delay_ms;    /* wait before each retry */
	bool quiet;		    /* no live per-round lines on stderr */
	/* Tests only: called with the guest stopped, after the last round,
	 * before STATE and END. */
	void (*on_switchover)(void *ctx, const struct guest_mem *m);
	void *test_ctx;
	/* Tests only: the first attempt's link drops after this many stream
	 * bytes (0: never), as if the network failed mid-stream. */
	uint64_t test_cut_after_bytes;
	/* Tests only: with the guest stopped after the final round, its last
	 * page takes a store that no log reports and no round sends, as a
	 * dirty log that lost a write would; the destination, already running
	 * the guest, must find VERDICT's checksum wrong and stop it. */
	bool test_lose_page;
	/* Tests only: after GO, hang up instead of sending VERDICT, as a
	 * source that died would; the destination must not trust its RAM. */
	bool test_no_verdict;
};

/* What one round did; rounds are numbered from 0 (all of RAM). */
struct migrate_round {
	uint64_t round;
	uint64_t pages;	       /* sent in the round (data + zero markers) */
	uint64_t zero_pages;   /* of which zero markers */
	uint64_t bytes;	       /* stream bytes the round took */
	uint64_t duration_ns;  /* from its first page to the harvest after it */
	uint64_t dirty_pages;  /* the harvest after it found this many to resend */
	double dirty_rate;     /* dirty_pages per second of the round */
	double mbps;	       /* the round's stream bytes, megabits per second */
	uint64_t remaining;    /* pages left to send after it */
	double expected_ms;    /* remaining at the bandwidth estimate, ms */
	uint32_t throttle_pct; /* vCPU throttle during the round */
	bool final;	       /* sent with the vCPU stopped */
};

#define MIGRATE_MAX_ROUNDS_KEPT 1024

struct migrate_stats {
	bool requested; /* a migration was configured */
	bool completed; /* the destination took over */
	uint32_t attempts;
	char failure[256];    /* the last failed attempt's reason */
	uint64_t total_ns;    /* start of the successful attempt to GO sent */
	uint64_t setup_ns;    /* connect and HELLO, before round 0 */
	uint64_t downtime_ns; /* vCPU stopped here to GO sent */
	/* Its parts: stopping the vCPU and saving its state; the final round;
	 * the state records and END (the RAM checksum); the destination's
	 * checks and loads until its ACK arrived. */
	uint64_t down_pause_ns, down_final_ns, down_end_ns, down_ack_ns;
	uint64_t transferred;	   /* stream bytes of the successful attempt */
	uint64_t transferred_all;  /* stream bytes of every attempt */
	uint64_t dirty_sync_count; /* harvests the migration thread made */
	uint64_t rounds;	   /* rounds, the final one included */
	uint64_t pages, zero_pages;
	uint64_t nonzero_first; /* data pages of round 0 */
	uint64_t redirtied;	/* distinct pages dirtied after their first copy */
	uint64_t ideal_bytes;	/* (nonzero_first + redirtied) * 4096 */
	uint64_t final_bytes;	/* stream bytes of the final round */
	/* QEMU's split of `transferred` (its precopy-bytes, downtime-bytes):
	 * sent while the guest ran here (HELLO and the pre-copy rounds), and
	 * after it stopped (the final round, state, END and what follows). */
	uint64_t precopy_bytes, downtime_bytes;
	uint64_t ram_bytes; /* guest RAM: QEMU's `total` */
	double bandwidth;   /* bytes/s estimate used for the switch-over */
	/* The last pre-copy round's figures when the switch-over was decided:
	 * QEMU's expected-downtime, dirty-pages-rate, cpu-throttle-percentage
	 * as query-migrate last showed them while the guest ran. */
	double last_expected_ms;
	double last_dirty_rate;
	uint32_t last_throttle_pct;
	bool dirty_limit_on; /* --throttle dirty-limit: the trigger turned the limit on */
	uint64_t ram_checksum; /* VERDICT's: the source's RAM, computed after GO */
	/* The late verification (docs/migration.md): after GO the source
	 * checksums its RAM, frozen for good, and the destination compares it
	 * with what it received.  completed && !verified fails the run. */
	bool verified;		  /* the destination confirmed the checksum */
	char verify_failure[384]; /* why not */
	uint64_t verify_ns;	  /* GO sent to the destination's answer */
	uint32_t throttle_pct;	  /* highest throttle used */
	uint64_t test_lost;	  /* stores test_lose_page kept from the destination */
	uint64_t nr_round;
	struct migrate_round round[MIGRATE_MAX_ROUNDS_KEPT]; /* the first ones, if more */
};

/* HELLO's config blob: what the destination needs to build the machine.
 * Strings are NUL-padded; the receiver checks every field.  Version 2: the
 * image is named by its file name only, never the source's path, and its
 * size travels with it; the destination picks the disk itself (--image or
 * --disk-dir, docs/migration.md#security).  Version 3: and its identity,
 * which the destination's disk must carry.  Version 4: the vCPUs, whose
 * states then come as that many VCPU records, vCPU 0 first. */
#define MIGRATE_CFG_VERSION 4
struct migrate_hello_cfg {
	uint32_t version; /* MIGRATE_CFG_VERSION */
	uint32_t flags;	  /* MIGRATE_CFG_F_* */
	uint64_t mem_bytes;
	/* struct boot_workload, field by field */
	uint32_t workload, epochs;
	uint64_t wss_pages, writes_per_epoch, seed, hot_pages;
	uint32_t hot_pct, policy, flush_every, boot_flags;
	uint64_t cache_pages, sync_every;
	char workload_name[32];
	char policy_name[16];
	char image[1024];	/* the disk's file name, no directory ("" if none) */
	uint64_t image_size;	/* its size in bytes (0 if none) */
	uint8_t image_uuid[16]; /* its identity (abi_fs_super.uuid; zero: none) */
	uint32_t nr_cpus;	/* v4: vCPUs, 1..ABI_MAX_CPUS */
	uint32_t share_pct;	/* v4: boot parameter share_pct */
};
#define MIGRATE_CFG_F_DISK 1u
_Static_assert(sizeof(struct migrate_hello_cfg) == 1192, "migration config layout");

/* The session's own state: where the guest is in its epochs. */
#define MIGRATE_SESSION_VERSION 1
struct migrate_session_state {
	uint32_t version; /* MIGRATE_SESSION_VERSION */
	uint32_t file_world;
	uint64_t epoch;	      /* the open epoch */
	uint64_t pc_desc_gpa; /* file world: the page-cache descriptor (READY) */
	uint64_t reserved;
};
_Static_assert(sizeof(struct migrate_session_state) == 32, "session state layout");

/* ---- source ---- */

struct migout;

/* The session's side of a pause: fill *st.  Runs on the vCPU thread with
 * the guest stopped. */
typedef void (*migout_session_save)(void *ctx, struct migrate_session_state *st);

/*
 * Make the source engine for a VM whose dirty log d is armed and whose
 * vCPU exists; nothing starts until migout_start.  hello is sent as HELLO's
 * config.  Returns 0 or -ENOMEM.
 */
int migout_create(struct migout **mo, const struct migrate_config *cfg, struct vm *vm,
		  struct dlog *d, const struct migrate_hello_cfg *hello, migout_session_save save,
		  void *save_ctx);

/* --throttle dirty-limit: whether the migration has turned the vCPUs'
 * dirty limit on (any thread). */
bool migout_dirty_limit_on(struct migout *mo);

/* Harvest the dirty log for the session: the pages go to epoch_set, to the
 * migration's set if an attempt is running, and pages the migration thread
 * harvested since the last call join epoch_set too.  Returns log entries
 * harvested (by this call) or -errno. */
int64_t migout_harvest(struct migout *mo, struct frameset *epoch_set);

/* A page written behind the dirty log's back (device DMA, host stores). */
void migout_mark(struct migout *mo, uint64_t ram_index);

/* Start the migration thread (once; later calls do nothing).  Returns 0 or
 * -errno. */
int migout_start(struct migout *mo);

/* The vm_handlers.kicked handler: throttle sleeps and the switch-over
 * pause.  Returns 1 when the destination took over (end the run). */
int migout_kicked(struct migout *mo);

/* Whether a harvest may find nothing after a ring-full exit (the migration
 * thread may have emptied the ring first). */
bool migout_active(struct migout *mo);

/* vm_run returned: end any attempt in progress (the guest can no longer
 * move) and join the thread.  Then the stats are final. */
void migout_finish(struct migout *mo);

const struct migrate_stats *migout_stats(const struct migout *mo);

void migout_destroy(struct migout *mo);

/* Fill the HELLO config of a run: image is the disk's path (NULL: none),
 * of which only the file name is sent, with its size image_size and its
 * identity image_uuid (16 bytes). */
void migrate_hello_fill(struct migrate_hello_cfg *c, const struct boot_workload *wl,
			uint64_t mem_bytes, const char *workload_name, const char *policy_name,
			const char *image, uint64_t image_size, const uint8_t *image_uuid);

/* ---- destination ---- */

struct migin_stats {
	uint64_t bytes, records, pages, zero_pages, rounds;
	uint64_t receive_ns;   /* HELLO to END */
	uint64_t load_ns;      /* END to ACK sent: state loads */
	uint64_t handshake_ns; /* ACK sent to GO received */
	uint64_t verify_ns;    /* GO received to VERDICT checked */
	uint64_t ram_checksum; /* VERDICT's, once verified */
	bool verified;	       /* VERDICT matched the RAM received */
	char verify_failure[384];
};

struct migin {
	int fd;
	struct migstream_reader r;
	struct migrate_hello_cfg cfg; /* from HELLO, checked */
	uint64_t ram_size;
	struct migin_stats stats;
	uint64_t t_hello;
	bool resumed;		   /* GO came: the guest is this side's now */
	bool nacked;		   /* a NACK told the source why */
	bool test_drop_before_ack; /* tests only: hang up instead of ACK */
	/* The late verification, a thread from GO on (migin_verify_*). */
	struct vm *vm;
	pthread_t verifier;
	bool verifier_started;
	int verify_failed; /* atomic: set before the vCPU is kicked */
	int verify_err;	   /* 0, or why: -EPROTO, -ECONNRESET */
	uint64_t t_go;
};

/* Read HELLO from fd and check its config.  Returns 0, or -errno with the
 * reason printed (and a NACK sent). */
int migin_open(struct migin *in, int fd);

/* The session's side of the load: called with the session state blob after
 * the guest's RAM and vCPU are loaded.  Returns 0 or -errno (message in
 * why). */
typedef int (*migin_session_load)(void *ctx, const struct migrate_session_state *st, char *why,
				  size_t whylen);

/*
 * Read the rest of the stream into vm's RAM, load vCPU, device, console and
 * session state, send ACK and wait for GO.  Returns 0 when the guest may
 * run, or -errno with the reason printed (a NACK sent when the stream was
 * refused): -EPROTO a bad stream or state, -ECANCELED the source aborted,
 * -ECONNRESET the link dropped.
 */
int migin_load(struct migin *in, struct vm *vm, migin_session_load load, void *ctx);

/*
 * After migin_load returned 0 and the guest runs: whether the late
 * verification failed already (the VERDICT record did not match the RAM
 * received, or never came).  The session's kicked handler asks it: the
 * verifier kicks the vCPU when it fails, and the guest must stop.
 */
bool migin_verify_failed(struct migin *in);

/*
 * Wait for the late verification (the source sends VERDICT after GO; at
 * most the socket's receive timeout) and return 0 when the RAM received was
 * the source's, or -EPROTO (a wrong checksum, a bad record) or -ECONNRESET
 * (no VERDICT came) with the reason printed and in stats.verify_failure.
 * Returns 0 at once when no guest was resumed.
 */
int migin_verify_finish(struct migin *in);

/* The workload HELLO describes (checked by migin_open). */
void migin_workload(const struct migin *in, struct boot_workload *wl);

void migin_close(struct migin *in);

/* Live migration's figures in the outputs (output_mig.c): the source's
 * rounds and totals, or the destination's incoming figures, printed before
 * the run's summary.  The stats must outlive the sinks' summary calls. */
struct migrate_report {
	struct report_ext ext;
	const struct migrate_stats *m;
	const struct migin_stats *in;
	uint64_t first_epoch;
};
void migrate_report_source(struct migrate_report *r, const struct migrate_stats *m);
void migrate_report_incoming(struct migrate_report *r, const struct migin_stats *in,
			     uint64_t first_epoch);

#endif
