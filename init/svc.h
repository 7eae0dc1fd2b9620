/* svc.h: the supervisor's runtime state: one struct svc per service, driven by events from main's loop
 * (child exits, probe results, readable pipes, deadlines, control requests). */
#ifndef KILN_SVC_H
#define KILN_SVC_H

#include "kiln.h"

enum svc_state {
	ST_WAITING,  /* requirements not ready yet */
	ST_STARTING, /* running, readiness not confirmed */
	ST_READY,
	ST_BACKOFF,  /* failed, restart scheduled */
	ST_STOPPING,
	ST_STOPPED,  /* stopped by request or shutdown */
	ST_FAILED,   /* gave up: missing binary, never restarts, bad definition */
	ST_DONE,     /* oneshot finished with 0 */
	ST_DISABLED, /* condition false */
	ST_SCHEDULED /* a job between runs */
};

struct svc {
	struct svc_def d;
	enum svc_state state;
	pid_t pid, probe_pid;
	int64_t started, ready_deadline, next_probe, probe_deadline, restart_at, stop_deadline, next_run;
	int attempt, restarts, last_status, blocked;
	int log_r, log_w;       /* the service's output pipe, kept for the service's lifetime */
	int notify_r;           /* ready notify FD: read end */
	struct logfile log;
	char reason[160];
	int job_runs, job_failures;
	int64_t job_last_end;
	int job_last_status;
};

extern struct svc *svcs;
extern int nsvcs;
extern int shutting_down; /* 0, or the reboot(2) command to end with */
extern double boot_offset; /* subtracted from boot time: a sandboxed init counts from its own start */

void svc_load_all(const char *dir);
void svc_tick(int64_t now);          /* start what can start, probe, restart, stop on deadlines */
int64_t svc_next_deadline(void);     /* the nearest deadline, or -1 */
void svc_child_exited(pid_t pid, int status);
void svc_pipe_readable(int fd);
void svc_stop(struct svc *s, int64_t now);
void svc_start_request(struct svc *s);
struct svc *svc_find(const char *name);
const char *svc_state_name(enum svc_state st);
void svc_status(char *out, size_t len, const char *only);
int svc_all_stopped(void);
void svc_begin_shutdown(int cmd);

#endif
