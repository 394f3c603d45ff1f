/*
 * knfsd emulator: nfsd's side of client tracking.
 *
 *   emu_nfsd_start()   nfs4_state_start_net() + nfsd4_client_tracking_init()
 *                      (§5.1): cld v1/v2 init, v0 fallback, grace or not
 *   emu_end_grace()    nfsd4_end_grace() (§5.5): GraceDone, list freed
 *   emu_client_*()     the tracker hooks of §4.5/§5.6 and their STABLE
 *                      flag, RECLAIM_COMPLETE counting
 *   /proc/fs/nfsd      v4_end_grace, nfsv4gracetime, nfsv4leasetime (§7)
 *
 * Not emulated: UMH and the legacy v4recovery tracker (§8), the MD5
 * fallback for "hash:" records, netns.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "emu_private.h"

#define EMU_OPENER_TICK_MS	100	/* nfsd4_cld_tracking_init(): msleep */
#define EMU_PROC_POLL_MS	100
#define EMU_LEGACY_PREFIX	"hash:"

static void emu_end_grace(struct emu *emu, const char *why);

/* ------------------------------------------------------------------ */
/* /proc/fs/nfsd                                                       */

static int emu_proc_write(struct emu *emu, const char *name,
			  const char *content)
{
	char *path = talloc_asprintf(emu, "%s/%s", emu->opts.procfs_dir,
				     name);
	size_t len = strlen(content);
	ssize_t n;
	int fd;
	int ret = 0;

	if (path == NULL) {
		return ENOMEM;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd == -1) {
		ret = errno;
		goto done;
	}
	n = write(fd, content, len);
	if (n != (ssize_t)len) {
		ret = n == -1 ? errno : EIO;
	}
	close(fd);
done:
	talloc_free(path);
	return ret;
}

/*
 * The file shows nn->grace_ended.  The emulator remembers what its own
 * write left behind, so any other writer is seen at the next poll.
 */
static void emu_proc_set_end_grace(struct emu *emu, bool ended)
{
	int ret;

	if (emu->end_grace_path == NULL) {
		return;
	}
	ret = emu_proc_write(emu, "v4_end_grace", ended ? "Y\n" : "N\n");
	if (ret != 0) {
		emu_warn(emu, "emu: cannot write %s: %s", emu->end_grace_path,
			 strerror(ret));
	}
	emu->end_grace_st_valid = (stat(emu->end_grace_path,
					&emu->end_grace_st) == 0);
}

int emu_proc_init(struct emu *emu)
{
	char num[32];
	int ret;

	ret = mkdir(emu->opts.procfs_dir, 0755);
	if (ret != 0 && errno != EEXIST) {
		return errno;
	}
	emu->end_grace_path = talloc_asprintf(emu, "%s/v4_end_grace",
					      emu->opts.procfs_dir);
	if (emu->end_grace_path == NULL) {
		return ENOMEM;
	}
	snprintf(num, sizeof(num), "%u\n", emu->opts.grace_time);
	ret = emu_proc_write(emu, "nfsv4gracetime", num);
	if (ret != 0) {
		return ret;
	}
	snprintf(num, sizeof(num), "%u\n", emu->opts.lease_time);
	ret = emu_proc_write(emu, "nfsv4leasetime", num);
	if (ret != 0) {
		return ret;
	}
	if (emu->opts.nfs_versions != NULL) {
		char *v = talloc_asprintf(emu, "%s\n",
					  emu->opts.nfs_versions);

		ret = (v == NULL) ? ENOMEM :
			emu_proc_write(emu, "versions", v);
		talloc_free(v);
		if (ret != 0) {
			return ret;
		}
	}
	emu_proc_set_end_grace(emu, false);
	return 0;
}

/* nfsv4gracetime may have been written while nfsd was stopped */
static unsigned emu_proc_grace_time(struct emu *emu)
{
	char buf[32] = "";
	char *path = NULL;
	char *end = NULL;
	unsigned long v;
	ssize_t n;
	int fd;

	if (emu->opts.procfs_dir == NULL) {
		return emu->opts.grace_time;
	}
	path = talloc_asprintf(emu, "%s/nfsv4gracetime", emu->opts.procfs_dir);
	fd = path != NULL ? open(path, O_RDONLY | O_CLOEXEC) : -1;
	talloc_free(path);
	if (fd == -1) {
		return emu->opts.grace_time;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0) {
		return emu->opts.grace_time;
	}
	buf[n] = '\0';
	v = strtoul(buf, &end, 10);
	if (end == buf || v > 3600) {
		return emu->opts.grace_time;
	}
	return (unsigned)v;
}

/* write_v4_end_grace(): "Y", "y" or "1" ends grace; others get EINVAL */
static void emu_proc_poll(struct emu *emu)
{
	struct stat st;
	char c = 0;
	ssize_t n;
	int fd;

	if (emu->end_grace_path == NULL ||
	    stat(emu->end_grace_path, &st) != 0) {
		return;
	}
	if (emu->end_grace_st_valid &&
	    st.st_ino == emu->end_grace_st.st_ino &&
	    st.st_size == emu->end_grace_st.st_size &&
	    st.st_mtim.tv_sec == emu->end_grace_st.st_mtim.tv_sec &&
	    st.st_mtim.tv_nsec == emu->end_grace_st.st_mtim.tv_nsec &&
	    st.st_ctim.tv_sec == emu->end_grace_st.st_ctim.tv_sec &&
	    st.st_ctim.tv_nsec == emu->end_grace_st.st_ctim.tv_nsec) {
		return;
	}
	emu->end_grace_st = st;
	emu->end_grace_st_valid = true;

	fd = open(emu->end_grace_path, O_RDONLY | O_CLOEXEC);
	if (fd == -1) {
		return;
	}
	n = read(fd, &c, 1);
	close(fd);
	if (n != 1) {
		return;		/* truncated, the write itself comes next */
	}

	emu->counters.end_grace_writes++;
	emu_log(emu, "proc: v4_end_grace written by another process: '%c'",
		c);
	if (c == 'Y' || c == 'y' || c == '1') {
		if (emu->running && emu->grace == EMU_GRACE_IN) {
			emu_end_grace(emu, "v4_end_grace written");
			return;
		}
	} else {
		emu_log(emu, "proc: the kernel would answer EINVAL");
	}
	/* the file shows the kernel's state, not what was written */
	emu_proc_set_end_grace(emu, emu->grace == EMU_GRACE_ENDING ||
			       emu->grace == EMU_GRACE_OVER);
}

int emu_write_end_grace(struct emu *emu)
{
	int ret;

	if (emu->opts.procfs_dir == NULL) {
		return ENOENT;
	}
	ret = emu_proc_write(emu, "v4_end_grace", "Y\n");
	if (ret != 0) {
		return ret;
	}
	emu_proc_poll(emu);
	return 0;
}

/* ------------------------------------------------------------------ */
/* The reclaim list (§5.3)                                             */

static int emu_records_reset(struct emu *emu)
{
	TALLOC_FREE(emu->records_ctx);
	emu->records = NULL;
	emu->nrecords = 0;
	emu->record_hash = NULL;
	emu->reclaim_live = false;

	emu->records_ctx = talloc_new(emu);
	if (emu->records_ctx == NULL) {
		return ENOMEM;
	}
	emu->record_hash = talloc_zero_array(emu->records_ctx,
					     struct emu_record *,
					     EMU_RECORD_BUCKETS);
	if (emu->record_hash == NULL) {
		return ENOMEM;
	}
	return 0;
}

static struct emu_record *emu_record_find(const struct emu *emu,
					  const uint8_t *id, size_t len)
{
	struct emu_record *rec = NULL;
	uint32_t h;

	if (emu->record_hash == NULL) {
		return NULL;
	}
	h = emu_id_hash(id, len) % EMU_RECORD_BUCKETS;
	for (rec = emu->record_hash[h]; rec != NULL; rec = rec->hnext) {
		if (rec->id_len == len && memcmp(rec->id, id, len) == 0) {
			return rec;
		}
	}
	return NULL;
}

/*
 * __cld_pipe_inprogress_downcall() + nfs4_client_to_reclaim(): one
 * -EINPROGRESS record.  No de-duplication: a repeated id counts twice.
 * Returns the write's verdict: 0, or EINVAL when the profile rejects it.
 */
int emu_nfsd_record(struct emu *emu, const struct cld_msg *msg)
{
	struct emu_record *rec = NULL;
	struct emu_record **records = NULL;
	size_t id_len = msg->name_len;
	size_t ph_len = emu->tracker == EMU_TRACK_V2 ? msg->princhash_len : 0;
	bool invalid = !cld_msg_name_valid(msg);
	char *idstr = NULL;
	uint32_t h;

	if (invalid) {
		emu->counters.records_invalid++;
		emu_warn(emu, "emu: GraceStart record xid %u with cn_len %u "
			 "cp_len %u", msg->xid, msg->name_len,
			 msg->princhash_len);
	}
	/*
	 * Newest tree: cn_len 1..1024 and cp_len <= 32.  Stable kernels
	 * with the CVE-2024-47692 fix reject cn_len 0 only; older ones
	 * copied cn_len bytes from beyond the message (here: truncated).
	 */
	if (msg->name_len == 0 || (emu->opts.profile == 'B' && invalid)) {
		emu->counters.records_rejected++;
		return EINVAL;
	}
	if (id_len > CLD_NAME_MAX) {
		id_len = CLD_NAME_MAX;
	}
	if (ph_len > CLD_PRINCHASH_SIZE) {
		ph_len = CLD_PRINCHASH_SIZE;
	}

	if (emu_record_find(emu, msg->name, id_len) != NULL) {
		emu->counters.gracestart_duplicates++;
		emu_warn(emu, "emu: GraceStart record xid %u repeats an id",
			 msg->xid);
	}

	rec = talloc_zero(emu->records_ctx, struct emu_record);
	if (rec == NULL) {
		return ENOMEM;
	}
	rec->id = talloc_memdup(rec, msg->name, id_len > 0 ? id_len : 1);
	if (rec->id == NULL) {
		talloc_free(rec);
		return ENOMEM;
	}
	rec->id_len = id_len;
	rec->princhash_len = ph_len;
	memcpy(rec->princhash, msg->princhash, ph_len);
	/* With legacy support (profile A) "hash:" is stripped (§5.3) */
	rec->legacy = emu->opts.profile == 'A' && id_len > 5 &&
		memcmp(rec->id, EMU_LEGACY_PREFIX, 5) == 0;

	records = talloc_realloc(emu->records_ctx, emu->records,
				 struct emu_record *, emu->nrecords + 1);
	if (records == NULL) {
		talloc_free(rec);
		return ENOMEM;
	}
	emu->records = records;
	emu->records[emu->nrecords++] = rec;
	h = emu_id_hash(rec->id, rec->id_len) % EMU_RECORD_BUCKETS;
	rec->hnext = emu->record_hash[h];
	emu->record_hash[h] = rec;
	emu->counters.gracestart_records++;

	if (emu->opts.verbose) {
		idstr = emu_id_string(NULL, rec->id, rec->id_len);
		emu_log(emu, "downcall xid %u GraceStart record \"%s\"%s",
			msg->xid, idstr != NULL ? idstr : "?",
			ph_len > 0 ? " +princhash" : "");
		talloc_free(idstr);
	}
	return 0;
}

size_t emu_reclaim_count(const struct emu *emu)
{
	return emu->nrecords;
}

bool emu_reclaim_get(const struct emu *emu, size_t i, struct emu_name *name)
{
	const struct emu_record *rec = NULL;

	if (i >= emu->nrecords) {
		return false;
	}
	rec = emu->records[i];
	*name = (struct emu_name) {
		.id = rec->id,
		.id_len = rec->id_len,
		.princhash = rec->princhash_len > 0 ? rec->princhash : NULL,
		.princhash_len = rec->princhash_len,
	};
	return true;
}

bool emu_reclaim_contains(const struct emu *emu, const uint8_t *id,
			  size_t id_len)
{
	return emu_record_find(emu, id, id_len) != NULL;
}

size_t emu_reclaim_completes(const struct emu *emu)
{
	return emu->nr_reclaim_complete;
}

/* ------------------------------------------------------------------ */
/* Clients                                                             */

static struct emu_client *emu_client_find(struct emu *emu,
					  const uint8_t *id, size_t len,
					  struct emu_client ***link)
{
	struct emu_client **pp = NULL;
	uint32_t h;

	if (emu->client_hash == NULL) {
		return NULL;
	}
	h = emu_id_hash(id, len) % EMU_CLIENT_BUCKETS;
	for (pp = &emu->client_hash[h]; *pp != NULL; pp = &(*pp)->hnext) {
		if ((*pp)->id_len == len && memcmp((*pp)->id, id, len) == 0) {
			if (link != NULL) {
				*link = pp;
			}
			return *pp;
		}
	}
	return NULL;
}

static struct emu_client *emu_client_get(struct emu *emu,
					 const struct emu_name *name)
{
	struct emu_client *clp = NULL;
	uint32_t h;

	clp = emu_client_find(emu, name->id, name->id_len, NULL);
	if (clp != NULL || emu->clients_ctx == NULL) {
		return clp;
	}
	clp = talloc_zero(emu->clients_ctx, struct emu_client);
	if (clp == NULL) {
		return NULL;
	}
	clp->id = talloc_memdup(clp, name->id,
				name->id_len > 0 ? name->id_len : 1);
	if (clp->id == NULL) {
		talloc_free(clp);
		return NULL;
	}
	clp->id_len = name->id_len;
	h = emu_id_hash(name->id, name->id_len) % EMU_CLIENT_BUCKETS;
	clp->hnext = emu->client_hash[h];
	emu->client_hash[h] = clp;
	return clp;
}

bool emu_client_stable(struct emu *emu, const struct emu_name *name)
{
	struct emu_client *clp = emu_client_find(emu, name->id, name->id_len,
						 NULL);

	return clp != NULL && clp->stable;
}

/* The status an upcall delivered, or its pipe-layer error */
static int emu_upcall_status(const struct emu_upcall *up)
{
	return up->result == 0 ? up->reply.status : up->result;
}

/*
 * Completion of an upcall: what the waiting nfsd thread does with the
 * answer (§4.5).  A delivered reply sets or clears STABLE whatever its
 * status; a pipe failure (-EPIPE, -ETIMEDOUT) changes nothing.
 */
void emu_nfsd_upcall_done(struct emu *emu, struct emu_upcall *up)
{
	struct emu_client *clp = NULL;
	int status = emu_upcall_status(up);

	if (up->client_id != NULL) {
		clp = emu_client_find(emu, up->client_id, up->client_id_len,
				      NULL);
	}

	switch (up->kind) {
	case EMU_KIND_CREATE:
		if (status != 0) {
			emu_log(emu, "NFSD: Unable to create client record on "
				"stable storage: %d", status);
		}
		if (up->result == 0 && clp != NULL) {
			clp->stable = true;
		}
		break;
	case EMU_KIND_REMOVE:
		if (status != 0) {
			emu_log(emu, "NFSD: Unable to remove client record "
				"from stable storage: %d", status);
		}
		if (up->result == 0 && clp != NULL) {
			clp->stable = false;
		}
		break;
	case EMU_KIND_CHECK:
		if (up->result == 0 && clp != NULL) {
			clp->stable = true;
		}
		break;
	case EMU_KIND_GRACE_DONE:
		if (status != 0) {
			emu_log(emu, "NFSD: Unable to end grace period: %d",
				status);
		}
		/* v1/v2: the reclaim list is freed even on failure */
		emu->reclaim_live = false;
		if (emu->grace == EMU_GRACE_ENDING) {
			emu->grace = EMU_GRACE_OVER;
			emu_log(emu, "nfsd: NFSv4 grace period over");
		}
		break;
	case EMU_KIND_RAW:
	case EMU_KIND_START:
		break;
	}
}

static int emu_client_upcall(struct emu *emu, TALLOC_CTX *mem_ctx,
			     const struct emu_name *name, uint8_t cmd,
			     enum emu_upcall_kind kind,
			     struct emu_upcall **result)
{
	struct cld_msg msg = {
		.vers = emu_ops_vers(emu),
		.cmd = cmd,
	};
	struct emu_upcall *up = NULL;
	int ret;

	if (name->id_len > CLD_NAME_MAX ||
	    name->princhash_len > CLD_PRINCHASH_SIZE) {
		return EINVAL;
	}
	msg.name_len = (uint16_t)name->id_len;
	memcpy(msg.name, name->id, name->id_len);
	/* v2 Create: SHA-256 of the principal, or cp_len 0 (§4.1) */
	if (cmd == CLD_CREATE && msg.vers == 2 && name->princhash != NULL) {
		msg.princhash_len = (uint8_t)name->princhash_len;
		memcpy(msg.princhash, name->princhash, name->princhash_len);
	}

	ret = emu_upcall_queue_msg(emu, mem_ctx, &msg, kind, &up);
	if (ret != 0) {
		return ret;
	}
	up->client_id = talloc_memdup(up, name->id,
				      name->id_len > 0 ? name->id_len : 1);
	if (up->client_id == NULL) {
		talloc_free(up);
		return ENOMEM;
	}
	up->client_id_len = name->id_len;
	*result = up;
	return 0;
}

static int emu_tracking_check(struct emu *emu)
{
	if (!emu->running) {
		return ESRCH;
	}
	if (emu->tracker == EMU_TRACK_NONE) {
		return EOPNOTSUPP;
	}
	return 0;
}

int emu_create_send(struct emu *emu, TALLOC_CTX *mem_ctx,
		    const struct emu_name *name, struct emu_upcall **result)
{
	struct emu_client *clp = NULL;
	int ret = emu_tracking_check(emu);

	*result = NULL;
	if (ret != 0) {
		return ret;
	}
	clp = emu_client_get(emu, name);
	if (clp == NULL) {
		return ENOMEM;
	}
	if (clp->stable) {
		return EALREADY;
	}
	return emu_client_upcall(emu, mem_ctx, name, CLD_CREATE,
				 EMU_KIND_CREATE, result);
}

int emu_remove_send(struct emu *emu, TALLOC_CTX *mem_ctx,
		    const struct emu_name *name, struct emu_upcall **result)
{
	struct emu_client *clp = NULL;
	int ret = emu_tracking_check(emu);

	*result = NULL;
	if (ret != 0) {
		return ret;
	}
	clp = emu_client_find(emu, name->id, name->id_len, NULL);
	if (clp == NULL || !clp->stable) {
		return EALREADY;
	}
	return emu_client_upcall(emu, mem_ctx, name, CLD_REMOVE,
				 EMU_KIND_REMOVE, result);
}

int emu_check_send(struct emu *emu, TALLOC_CTX *mem_ctx,
		   const struct emu_name *name, struct emu_upcall **result)
{
	struct emu_client *clp = NULL;
	int ret = emu_tracking_check(emu);

	*result = NULL;
	if (ret != 0) {
		return ret;
	}
	if (emu->tracker != EMU_TRACK_V0) {
		return EOPNOTSUPP;
	}
	clp = emu_client_get(emu, name);
	if (clp == NULL) {
		return ENOMEM;
	}
	if (clp->stable) {
		return EALREADY;
	}
	return emu_client_upcall(emu, mem_ctx, name, CLD_CHECK,
				 EMU_KIND_CHECK, result);
}

int emu_grace_done_send(struct emu *emu, TALLOC_CTX *mem_ctx,
			struct emu_upcall **result)
{
	struct cld_msg msg = {
		.vers = emu_ops_vers(emu),
		.cmd = CLD_GRACE_DONE,
		.gracetime = emu->tracker == EMU_TRACK_V0 ? emu->boot_time : 0,
	};

	return emu_upcall_queue_msg(emu, mem_ctx, &msg, EMU_KIND_RAW, result);
}

/* Queue with *send, then block like an nfsd thread; fill *op */
static int emu_client_op(struct emu *emu, const struct emu_name *name,
			 int (*send)(struct emu *emu, TALLOC_CTX *mem_ctx,
				     const struct emu_name *name,
				     struct emu_upcall **result),
			 struct emu_op *op)
{
	TALLOC_CTX *tmp_ctx = talloc_new(emu);
	struct emu_upcall *up = NULL;
	int ret;

	*op = (struct emu_op) {};
	if (tmp_ctx == NULL) {
		return ENOMEM;
	}
	ret = send(emu, tmp_ctx, name, &up);
	if (ret == EALREADY) {
		ret = 0;	/* nothing to tell the daemon */
		goto done;
	}
	if (ret != 0) {
		goto done;
	}
	op->upcall = true;
	op->xid = up->xid;
	ret = emu_wait_nfsd_thread(emu, up);
	if (ret != 0) {
		goto done;
	}
	op->status = emu_upcall_status(up);
done:
	talloc_free(tmp_ctx);
	return ret;
}

int emu_client_create(struct emu *emu, const struct emu_name *name,
		      struct emu_op *op)
{
	int ret = emu_tracking_check(emu);

	*op = (struct emu_op) {};
	if (ret == EOPNOTSUPP) {
		return 0;	/* no tracker: create is a no-op */
	}
	if (ret != 0) {
		return ret;
	}
	return emu_client_op(emu, name, emu_create_send, op);
}

int emu_client_expire(struct emu *emu, const struct emu_name *name,
		      struct emu_op *op)
{
	struct emu_client **link = NULL;
	struct emu_client *clp = NULL;
	int ret = emu_tracking_check(emu);

	*op = (struct emu_op) {};
	if (ret == ESRCH) {
		return ret;
	}
	if (ret == 0) {
		ret = emu_client_op(emu, name, emu_remove_send, op);
		if (ret != 0) {
			return ret;
		}
	}
	clp = emu_client_find(emu, name->id, name->id_len, &link);
	if (clp != NULL) {
		*link = clp->hnext;
		talloc_free(clp);
	}
	return 0;
}

/* nfs4_check_open_reclaim() and the tracker's check (§5.4) */
int emu_client_reclaim(struct emu *emu, const struct emu_name *name,
		       struct emu_op *op)
{
	struct emu_client *clp = NULL;
	struct emu_record *rec = NULL;
	int ret;

	*op = (struct emu_op) { .nfs_status = EMU_NFS4ERR_RECLAIM_BAD };
	if (!emu->running) {
		return ESRCH;
	}
	clp = emu_client_get(emu, name);
	if (clp == NULL) {
		return ENOMEM;
	}
	/* the lock manager stays in grace until GraceDone has returned */
	if (emu->grace != EMU_GRACE_IN && emu->grace != EMU_GRACE_ENDING) {
		op->nfs_status = EMU_NFS4ERR_NO_GRACE;
		return 0;
	}
	if (clp->reclaim_complete) {
		op->nfs_status = EMU_NFS4ERR_NO_GRACE;
		return 0;
	}

	switch (emu->tracker) {
	case EMU_TRACK_NONE:
		return 0;	/* every reclaim refused (§5.1 step 7) */
	case EMU_TRACK_V0:
		if (!clp->stable) {
			ret = emu_client_op(emu, name, emu_check_send, op);
			if (ret != 0) {
				return ret;
			}
			if (op->status != 0) {
				op->nfs_status = EMU_NFS4ERR_RECLAIM_BAD;
				return 0;
			}
		}
		break;
	case EMU_TRACK_V1:
	case EMU_TRACK_V2:
		if (clp->stable) {
			break;
		}
		rec = emu_record_find(emu, name->id, name->id_len);
		if (rec == NULL || rec->legacy || !emu->reclaim_live) {
			return 0;
		}
		if (emu->tracker == EMU_TRACK_V2 && rec->princhash_len > 0 &&
		    (name->princhash == NULL ||
		     name->princhash_len < rec->princhash_len ||
		     memcmp(name->princhash, rec->princhash,
			    rec->princhash_len) != 0)) {
			return 0;
		}
		break;
	}
	op->nfs_status = EMU_NFS4_OK;
	emu->somebody_reclaimed = true;
	return 0;
}

/* nfsd4_reclaim_complete() and inc_reclaim_complete() (§5.5, §5.6) */
int emu_client_reclaim_complete(struct emu *emu, const struct emu_name *name,
				struct emu_op *op)
{
	struct emu_client *clp = NULL;
	int ret;

	*op = (struct emu_op) {};
	if (!emu->running) {
		return ESRCH;
	}
	clp = emu_client_get(emu, name);
	if (clp == NULL) {
		return ENOMEM;
	}
	if (clp->reclaim_complete) {
		op->nfs_status = EMU_NFS4ERR_COMPLETE_ALREADY;
		return 0;
	}
	clp->reclaim_complete = true;

	ret = emu_client_create(emu, name, op);
	if (ret != 0) {
		return ret;
	}
	op->nfs_status = EMU_NFS4_OK;

	if (!emu->track_reclaim_completes || !emu->reclaim_live ||
	    emu_record_find(emu, name->id, name->id_len) == NULL) {
		return 0;
	}
	emu->nr_reclaim_complete++;
	emu_log(emu, "nfsd: %zu of %zu clients done reclaiming",
		emu->nr_reclaim_complete, emu->nrecords);
	if (emu->nr_reclaim_complete == emu->nrecords) {
		emu_log(emu, "NFSD: all clients done reclaiming, ending NFSv4 "
			"grace period");
		emu_end_grace(emu, "all clients done reclaiming");
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* Grace                                                               */

/*
 * nfsd4_end_grace(): once per start.  grace_ended (v4_end_grace "Y")
 * first, then the GraceDone upcall; the lock manager leaves grace when
 * it returns, i.e. when the upcall completes.
 */
static void emu_end_grace(struct emu *emu, const char *why)
{
	struct emu_upcall *up = NULL;
	int ret;

	if (emu->grace != EMU_GRACE_IN) {
		return;
	}
	emu->grace = EMU_GRACE_ENDING;
	emu->grace_deadline_ns = 0;
	emu_proc_set_end_grace(emu, true);
	emu_log(emu, "nfsd: ending NFSv4 grace period (%s)", why);

	if (emu->tracker == EMU_TRACK_NONE) {
		emu->grace = EMU_GRACE_OVER;
		return;
	}
	ret = emu_grace_done_send(emu, emu, &up);
	if (ret != 0) {
		emu_warn(emu, "emu: cannot queue GraceDone: %s",
			 strerror(ret));
		emu->grace = EMU_GRACE_OVER;
		return;
	}
	up->kind = EMU_KIND_GRACE_DONE;
	emu->counters.grace_done++;
}

uint64_t emu_nfsd_next_timer(const struct emu *emu)
{
	uint64_t next = 0;

	if (emu->grace == EMU_GRACE_IN && emu->grace_deadline_ns != 0) {
		next = emu->grace_deadline_ns;
	}
	if (emu->end_grace_path != NULL &&
	    (next == 0 || emu->proc_poll_ns < next)) {
		next = emu->proc_poll_ns;
	}
	return next;
}

/*
 * The laundromat: first run nfsv4gracetime after start; while reclaims
 * keep arriving it looks again 1 s later (the 2 x lease cap never fires,
 * §5.5 Observation).
 */
void emu_nfsd_timers(struct emu *emu, uint64_t now)
{
	if (emu->end_grace_path != NULL && now >= emu->proc_poll_ns) {
		emu->proc_poll_ns = now + EMU_PROC_POLL_MS * 1000000ULL;
		emu_proc_poll(emu);
	}
	if (emu->grace != EMU_GRACE_IN || emu->grace_deadline_ns == 0 ||
	    now < emu->grace_deadline_ns) {
		return;
	}
	if (emu->somebody_reclaimed) {
		emu->somebody_reclaimed = false;
		emu->grace_deadline_ns = now + 1000000000ULL;
		emu_log(emu, "nfsd: clients still reclaiming, grace goes on "
			"for 1 s");
		return;
	}
	emu_end_grace(emu, "grace period expired");
}

int emu_grace_wait(struct emu *emu, int timeout_ms)
{
	uint64_t end = emu_now_ns() + (uint64_t)timeout_ms * 1000000ULL;
	uint64_t now;

	for (;;) {
		if (!emu->running) {
			return ESRCH;
		}
		if (emu->grace == EMU_GRACE_OVER) {
			return 0;
		}
		now = emu_now_ns();
		if (now >= end) {
			return ETIMEDOUT;
		}
		emu_pump(emu, (int)((end - now + 999999) / 1000000));
	}
}

/* ------------------------------------------------------------------ */
/* Start and stop                                                      */

/* One nfsd thread's upcall during start: queue it and block on it */
static int emu_start_upcall(struct emu *emu, TALLOC_CTX *mem_ctx,
			    uint8_t vers, uint8_t cmd,
			    struct emu_upcall **result)
{
	struct cld_msg msg = {
		.vers = vers,
		.cmd = cmd,
	};
	int ret;

	ret = emu_upcall_queue_msg(emu, mem_ctx, &msg, EMU_KIND_START,
				   result);
	if (ret != 0) {
		return ret;
	}
	return emu_wait_nfsd_thread(emu, *result);
}

/*
 * nfsd4_cld_tracking_init(): pipe, wait for an opener, GetVersion in v1
 * format, GraceStart in the selected format.  Returns 0, ETIMEDOUT (no
 * opener: no v0 fallback), ETIME (hung) or another errno (fall back).
 */
static int emu_cld_init(struct emu *emu)
{
	TALLOC_CTX *tmp_ctx = talloc_new(emu);
	struct emu_upcall *up = NULL;
	unsigned waited = 0;
	unsigned version;
	int status;
	int ret;

	if (tmp_ctx == NULL) {
		return ENOMEM;
	}
	ret = emu_records_reset(emu);
	if (ret != 0) {
		goto done;
	}
	emu->reclaim_live = true;
	emu->track_reclaim_completes = true;
	emu->tracker = EMU_TRACK_V1;

	ret = emu_pipe_create(emu);
	if (ret != 0) {
		goto fail;
	}

	/* "while (!cld_running(nn) && retries--) msleep(100);" */
	while (emu->nconns == 0 && waited < emu->opts.opener_wait_ms) {
		emu_sleep(emu, EMU_OPENER_TICK_MS);
		waited += EMU_OPENER_TICK_MS;
	}
	if (emu->nconns == 0) {
		emu_log(emu, "nfsd: nobody opened nfsd/cld within %u ms",
			emu->opts.opener_wait_ms);
		ret = ETIMEDOUT;
		goto fail;
	}

	ret = emu_start_upcall(emu, tmp_ctx, 1, CLD_GET_VERSION, &up);
	if (ret != 0) {
		goto fail;
	}
	/* any failure, the pipe's included, keeps v1 ops and goes on */
	status = emu_upcall_status(up);
	if (status == -EOPNOTSUPP) {
		emu_log(emu, "NFSD: nfsdcld GetVersion upcall failed. Please "
			"upgrade nfsdcld.");
	}
	if (status == 0) {
		version = up->reply.version;
		if (version < 1) {
			version = 1;
		}
		if (version > 2) {
			version = 2;
		}
		if (version > (unsigned)emu->opts.version_max) {
			version = (unsigned)emu->opts.version_max;
		}
		emu->tracker = version == 2 ? EMU_TRACK_V2 : EMU_TRACK_V1;
	}
	emu_log(emu, "nfsd: cld upcall version %u",
		emu->tracker == EMU_TRACK_V2 ? 2 : 1);

	ret = emu_start_upcall(emu, tmp_ctx, emu_ops_vers(emu),
			       CLD_GRACE_START, &up);
	if (ret != 0) {
		goto fail;
	}
	status = emu_upcall_status(up);
	if (status != 0) {
		if (status == -EOPNOTSUPP) {
			emu_log(emu, "NFSD: nfsdcld GraceStart upcall failed. "
				"Please upgrade nfsdcld.");
		}
		emu_log(emu, "nfsd: GraceStart failed: %d", status);
		ret = status < 0 ? -status : EIO;
		goto fail;
	}
	emu_log(emu, "NFSD: Using nfsdcld client tracking operations.");
	ret = 0;
	goto done;

fail:
	/* the reclaim list is freed and the pipe unlinked */
	emu_pipe_destroy(emu);
	emu_records_reset(emu);
	emu->track_reclaim_completes = false;
	emu->tracker = EMU_TRACK_NONE;
done:
	talloc_free(tmp_ctx);
	return ret;
}

/* The GraceDone of a grace that ends during start blocks nfsd start */
static int emu_wait_grace_done(struct emu *emu)
{
	uint64_t end = emu_now_ns() + (uint64_t)emu->opts.hang_ms * 1000000ULL;

	while (emu->grace == EMU_GRACE_ENDING) {
		if (emu_now_ns() >= end) {
			emu_warn(emu, "emu: nfsd thread hung: GraceDone "
				 "unanswered after %u ms", emu->opts.hang_ms);
			return ETIME;
		}
		emu_pump(emu, 100);
	}
	return 0;
}

int emu_nfsd_start(struct emu *emu)
{
	int init_ret = EOPNOTSUPP;
	int ret;

	if (emu->running) {
		return EALREADY;
	}
	emu->clients_ctx = talloc_new(emu);
	if (emu->clients_ctx == NULL) {
		return ENOMEM;
	}
	emu->client_hash = talloc_zero_array(emu->clients_ctx,
					     struct emu_client *,
					     EMU_CLIENT_BUCKETS);
	if (emu->client_hash == NULL) {
		TALLOC_FREE(emu->clients_ctx);
		return ENOMEM;
	}
	ret = emu_records_reset(emu);
	if (ret != 0) {
		return ret;
	}

	emu->running = true;
	emu->boot_time = (int64_t)time(NULL);
	emu->grace = EMU_GRACE_IN;
	emu->grace_deadline_ns = 0;
	emu->somebody_reclaimed = false;
	emu->track_reclaim_completes = false;
	emu->nr_reclaim_complete = 0;
	emu->grace_time = emu_proc_grace_time(emu);
	emu_proc_set_end_grace(emu, false);
	emu_log(emu, "nfsd: starting (profile %c, upcall version <= %d)",
		emu->opts.profile, emu->opts.version_max);

	if (emu->opts.version_max >= 1) {
		init_ret = emu_cld_init(emu);
	}
	if (init_ret == ETIME) {
		emu_nfsd_stop(emu);
		return ETIME;
	}
	if (init_ret != 0 && init_ret != ETIMEDOUT) {
		/* v0: a new pipe, new xids, no wait, no GraceStart */
		init_ret = emu_pipe_create(emu);
		if (init_ret == 0) {
			emu->tracker = EMU_TRACK_V0;
			emu_log(emu, "NFSD: Using old nfsdcld client tracking "
				"operations.");
		}
	}
	if (init_ret != 0) {
		emu->tracker = EMU_TRACK_NONE;
		emu_log(emu, "NFSD: Unable to initialize client recovery "
			"tracking! (%d)", -init_ret);
		emu_log(emu, "NFSD: Is nfsdcld running?");
	}

	if (emu->track_reclaim_completes && emu->nrecords == 0) {
		emu_log(emu, "NFSD: no clients to reclaim, skipping NFSv4 "
			"grace period");
		emu_end_grace(emu, "no clients to reclaim");
		/* synchronous in nfs4_state_start_net() */
		ret = emu_wait_grace_done(emu);
		if (ret != 0) {
			emu_nfsd_stop(emu);
			return ret;
		}
	} else {
		emu_log(emu, "NFSD: starting %u-second grace period",
			emu->grace_time);
		emu->grace_deadline_ns = emu_now_ns() +
			(uint64_t)emu->grace_time * 1000000000ULL;
	}
	return init_ret;
}

void emu_nfsd_stop(struct emu *emu)
{
	if (!emu->running) {
		return;
	}
	emu_log(emu, "nfsd: stopping (clients destroyed without Remove)");
	emu_pipe_destroy(emu);
	emu->running = false;
	emu->tracker = EMU_TRACK_NONE;
	emu->grace = EMU_GRACE_STOPPED;
	emu->grace_deadline_ns = 0;
	emu->reclaim_live = false;
	emu->track_reclaim_completes = false;
	emu->client_hash = NULL;
	TALLOC_FREE(emu->clients_ctx);
}

int emu_nfsd_restart(struct emu *emu)
{
	emu_nfsd_stop(emu);
	return emu_nfsd_start(emu);
}

void emu_set_version_max(struct emu *emu, int version_max)
{
	if (version_max >= 0 && version_max <= 2) {
		emu->opts.version_max = version_max;
	}
}

enum emu_grace emu_grace_state(const struct emu *emu)
{
	return emu->grace;
}

enum emu_tracker emu_tracker(const struct emu *emu)
{
	return emu->tracker;
}

const char *emu_grace_name(enum emu_grace grace)
{
	switch (grace) {
	case EMU_GRACE_STOPPED:
		return "stopped";
	case EMU_GRACE_IN:
		return "in grace";
	case EMU_GRACE_ENDING:
		return "ending";
	case EMU_GRACE_OVER:
		return "over";
	}
	return "?";
}

const char *emu_tracker_name(enum emu_tracker tracker)
{
	switch (tracker) {
	case EMU_TRACK_NONE:
		return "none";
	case EMU_TRACK_V0:
		return "cld v0";
	case EMU_TRACK_V1:
		return "cld v1";
	case EMU_TRACK_V2:
		return "cld v2";
	}
	return "?";
}
