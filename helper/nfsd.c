/*
 * /proc/fs/nfsd grace controls (spec/knfsd-upcalls.md §7), the nfsd
 * restart command and the versions nfsd serves.
 *
 * The restart command runs in its own process group with its output on
 * a pipe; EOF on the pipe means it finished (or closed its output), and
 * the timer kills the whole group if it hangs.  As in CTDB's run_proc,
 * the child is owned by the request: freeing the request kills it.
 *
 * <procfs>/versions is read by such a child too: the kernel takes
 * nfsd_mutex to answer, and a starting nfsd holds that mutex while it
 * waits for cltrackd's GraceStart reply, so reading it in cltrackd
 * itself could deadlock.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "logging.h"
#include "nfsd.h"
#include "tevent_errno.h"

int nfsd_end_grace(const char *procfs_dir)
{
	char path[4096];
	ssize_t n;
	int fd;
	int ret = 0;

	snprintf(path, sizeof(path), "%s/v4_end_grace", procfs_dir);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd == -1) {
		ret = errno;
		D_ERR("Cannot open %s, ret=%d (%s)", path, ret, strerror(ret));
		return ret;
	}
	n = write(fd, "Y", 1);
	if (n != 1) {
		ret = (n == -1) ? errno : EIO;
		D_ERR("Writing Y to %s failed, ret=%d (%s)", path, ret,
		      strerror(ret));
	}
	close(fd);
	return ret;
}

int nfsd_in_grace(const char *procfs_dir, bool *in_grace)
{
	char path[4096];
	char c = 0;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/v4_end_grace", procfs_dir);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd == -1) {
		return errno;
	}
	n = read(fd, &c, 1);
	close(fd);
	if (n != 1) {
		return n == -1 ? errno : EIO;
	}
	*in_grace = (c == 'N');
	return 0;
}

struct nfsd_restart_state {
	struct tevent_context *ev;
	const char *what;	/* for the log */
	pid_t pid;
	int fd;
	struct tevent_fd *fde;
	char output[256];
	size_t outlen;
	int status;
};

static void nfsd_restart_output(struct tevent_context *ev,
				struct tevent_fd *fde, uint16_t flags,
				void *private_data);
static void nfsd_restart_timeout(struct tevent_context *ev,
				 struct tevent_timer *te, struct timeval now,
				 void *private_data);

/*
 * Children killed but not reaped yet.  A child stuck in the kernel (in
 * mutex_lock(&nfsd_mutex), say) does not die of SIGKILL until it gets
 * the mutex, and cltrackd must not wait for it: it is reaped later.
 */
#define NFSD_ORPHANS_MAX 16
static pid_t nfsd_orphans[NFSD_ORPHANS_MAX];

static void nfsd_reap_orphans(void)
{
	int i;

	for (i = 0; i < NFSD_ORPHANS_MAX; i++) {
		if (nfsd_orphans[i] > 0 &&
		    waitpid(nfsd_orphans[i], NULL, WNOHANG) != 0) {
			nfsd_orphans[i] = 0;
		}
	}
}

static int nfsd_restart_state_destructor(struct nfsd_restart_state *state)
{
	int i;

	TALLOC_FREE(state->fde);
	if (state->fd != -1) {
		close(state->fd);
		state->fd = -1;
	}
	if (state->pid > 0) {
		kill(-state->pid, SIGKILL);
		if (waitpid(state->pid, NULL, WNOHANG) == 0) {
			for (i = 0; i < NFSD_ORPHANS_MAX; i++) {
				if (nfsd_orphans[i] <= 0) {
					nfsd_orphans[i] = state->pid;
					break;
				}
			}
			if (i == NFSD_ORPHANS_MAX) {
				D_WARNING("More than %d killed children are "
					  "stuck in the kernel; pid %d stays a "
					  "zombie when it dies",
					  NFSD_ORPHANS_MAX, (int)state->pid);
			}
		}
		state->pid = -1;
	}
	return 0;
}

/* The child starts clean: default signal handling, nothing blocked */
static void nfsd_child_signals(void)
{
	sigset_t none;
	int sig;

	for (sig = 1; sig < NSIG; sig++) {
		if (sig != SIGKILL && sig != SIGSTOP) {
			signal(sig, SIG_DFL);
		}
	}
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

/* The child of nfsd_versions_send: copy the file to stdout */
static void nfsd_child_cat(const char *path)
{
	char buf[256];
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd == -1) {
		_exit(1);
	}
	n = read(fd, buf, sizeof(buf));
	if (n <= 0 || write(1, buf, (size_t)n) != n) {
		_exit(1);
	}
	_exit(0);
}

/*
 * Run, in a child with its own process group and its output on a pipe,
 * /bin/sh -c command, or (path != NULL) nfsd_child_cat(path).
 */
static struct tevent_req *nfsd_child_send(TALLOC_CTX *mem_ctx,
					  struct tevent_context *ev,
					  const char *what,
					  const char *command,
					  const char *path, int timeout_secs)
{
	struct tevent_req *req = NULL;
	struct nfsd_restart_state *state = NULL;
	struct tevent_timer *te = NULL;
	int fds[2];

	req = tevent_req_create(mem_ctx, &state, struct nfsd_restart_state);
	if (req == NULL) {
		return NULL;
	}
	state->ev = ev;
	state->what = what;
	state->fd = -1;
	state->pid = -1;
	talloc_set_destructor(state, nfsd_restart_state_destructor);

	if (path == NULL && (command == NULL || command[0] == '\0')) {
		tevent_req_error(req, ENOENT);
		return tevent_req_post(req, ev);
	}
	nfsd_reap_orphans();
	if (pipe2(fds, O_CLOEXEC) != 0) {
		tevent_req_error(req, errno);
		return tevent_req_post(req, ev);
	}

	state->pid = fork();
	if (state->pid == -1) {
		int err = errno;
		close(fds[0]);
		close(fds[1]);
		tevent_req_error(req, err);
		return tevent_req_post(req, ev);
	}
	if (state->pid == 0) {
		int devnull = open("/dev/null", O_RDONLY);

		nfsd_child_signals();
		setpgid(0, 0);
		if (devnull != -1) {
			dup2(devnull, 0);
		}
		dup2(fds[1], 1);
		dup2(fds[1], 2);
		if (path != NULL) {
			nfsd_child_cat(path);
		}
		execl("/bin/sh", "sh", "-c", command, (char *)NULL);
		_exit(127);
	}
	setpgid(state->pid, state->pid);
	close(fds[1]);
	state->fd = fds[0];

	state->fde = tevent_add_fd(ev, state, state->fd, TEVENT_FD_READ,
				   nfsd_restart_output, req);
	te = tevent_add_timer(ev, state,
			      tevent_timeval_current_ofs(timeout_secs, 0),
			      nfsd_restart_timeout, req);
	if (state->fde == NULL || te == NULL) {
		tevent_req_error(req, ENOMEM);
		return tevent_req_post(req, ev);
	}
	return req;
}

struct tevent_req *nfsd_restart_send(TALLOC_CTX *mem_ctx,
				     struct tevent_context *ev,
				     const char *command, int timeout_secs)
{
	struct tevent_req *req = NULL;

	req = nfsd_child_send(mem_ctx, ev, "nfsd restart command", command,
			      NULL, timeout_secs);
	if (req != NULL && tevent_req_is_in_progress(req)) {
		D_NOTICE("Running nfsd restart command: %s", command);
	}
	return req;
}

static void nfsd_restart_output(struct tevent_context *ev,
				struct tevent_fd *fde, uint16_t flags,
				void *private_data)
{
	struct tevent_req *req = talloc_get_type_abort(
		private_data, struct tevent_req);
	struct nfsd_restart_state *state = tevent_req_data(
		req, struct nfsd_restart_state);
	char buf[256];
	ssize_t n;
	int wstatus = 0;

	n = read(state->fd, buf, sizeof(buf));
	if (n > 0) {
		size_t room = sizeof(state->output) - 1 - state->outlen;
		size_t copy = (size_t)n < room ? (size_t)n : room;

		memcpy(state->output + state->outlen, buf, copy);
		state->outlen += copy;
		return;
	}
	if (n == -1 && errno == EINTR) {
		return;
	}

	/* EOF: the command is done with its output; collect it */
	TALLOC_FREE(state->fde);
	if (waitpid(state->pid, &wstatus, 0) == -1) {
		tevent_req_error(req, errno);
		return;
	}
	state->pid = -1;
	if (WIFEXITED(wstatus)) {
		state->status = WEXITSTATUS(wstatus);
	} else {
		state->status = 128 + WTERMSIG(wstatus);
	}
	state->output[state->outlen] = '\0';
	if (state->status != 0) {
		D_ERR("%s failed with status %d: %s", state->what,
		      state->status, state->output);
	}
	tevent_req_done(req);
}

static void nfsd_restart_timeout(struct tevent_context *ev,
				 struct tevent_timer *te, struct timeval now,
				 void *private_data)
{
	struct tevent_req *req = talloc_get_type_abort(
		private_data, struct tevent_req);
	struct nfsd_restart_state *state = tevent_req_data(
		req, struct nfsd_restart_state);

	D_ERR("%s timed out; killed it", state->what);
	/* The destructor kills the process group */
	tevent_req_error(req, ETIMEDOUT);
}

int nfsd_restart_recv(struct tevent_req *req, int *status)
{
	struct nfsd_restart_state *state = tevent_req_data(
		req, struct nfsd_restart_state);
	int err;

	if (tevent_req_is_errno(req, &err)) {
		return err;
	}
	*status = state->status;
	return 0;
}

struct tevent_req *nfsd_versions_send(TALLOC_CTX *mem_ctx,
				      struct tevent_context *ev,
				      const char *procfs_dir, int timeout_secs)
{
	char *path = NULL;
	struct tevent_req *req = NULL;

	path = talloc_asprintf(mem_ctx, "%s/versions", procfs_dir);
	if (path == NULL) {
		return NULL;
	}
	req = nfsd_child_send(mem_ctx, ev, "Reading nfsd's versions", NULL,
			      path, timeout_secs);
	talloc_free(path);
	return req;
}

int nfsd_versions_recv(struct tevent_req *req, bool *v40)
{
	struct nfsd_restart_state *state = tevent_req_data(
		req, struct nfsd_restart_state);
	int err;

	if (tevent_req_is_errno(req, &err)) {
		return err;
	}
	if (state->status != 0) {
		return ENOENT;
	}
	return nfsd_versions_parse(state->output, v40);
}

/*
 * "-2 +3 +4 +4.0 +4.1 +4.2": the kernel prints every major version it
 * has, then for 4 each minor version (older kernels print no minors).
 * NFSv4.0 counts as served unless "-4.0" or "-4" says otherwise.
 */
int nfsd_versions_parse(const char *text, bool *v40)
{
	bool served = true;
	bool any = false;
	const char *p = text;

	while (*p != '\0') {
		size_t len;

		while (*p == ' ' || *p == '\n' || *p == '\t') {
			p++;
		}
		len = strcspn(p, " \n\t");
		if (len == 0) {
			break;
		}
		if (p[0] != '+' && p[0] != '-') {
			return EINVAL;
		}
		any = true;
		if ((len == 4 && strncmp(p + 1, "4.0", 3) == 0) ||
		    (len == 2 && p[1] == '4')) {
			served = (p[0] == '+');
		}
		p += len;
	}
	if (!any) {
		return EINVAL;
	}
	*v40 = served;
	return 0;
}
