/*
 * The daemon: one libevent loop that owns the HTTP engine, the store, the
 * outbox, the rules and the pollers. Signals are libevent events. Reload
 * parses and validates a complete new configuration and swaps it in only
 * when it is valid (STYLE.md habit 7).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>
#include <event2/event.h>

#include "config.h"
#include "control.h"
#include "drill.h"
#include "health.h"
#include "daemon.h"
#include "http.h"
#include "log.h"
#include "metrics.h"
#include "metrics-http.h"
#include "notifier.h"
#include "outbox.h"
#include "poller.h"
#include "posture-watch.h"
#include "rules.h"
#include "store.h"
#include "timeutil.h"
#include "xmalloc.h"

#define SHUTDOWN_GRACE_SEC	5	/* finish in-flight deliveries */
#define ONCE_RETRY_SEC		30	/* --once retries sources and sends */
#define PRUNE_EVERY_SEC		3600	/* history: keep is enforced hourly */
#define STATUS_EVERY_SEC	15	/* systemd's STATUS= line */

/* A configuration replaced by a reload, kept until no delivery in flight
 * still uses one of its notifiers. */
struct retired {
	struct config	 *config;
	struct notifier	**notifiers;
	size_t		  nnotifiers;
	struct retired	 *next;
};

struct daemon {
	const struct daemon_opts *opts;
	struct config		*config;
	struct event_base	*base;
	struct http_engine	*http;
	struct store		*store;
	struct outbox		*outbox;
	struct rules		*rules;
	struct pollers		*pollers;
	struct health		*health;
	struct metrics_http	*metrics_http;	/* /metrics, /healthz */
	struct posture_watch	*posture;
	struct control		*control;	/* --drill announcements */
	struct notifier		**notifiers;
	size_t			  nnotifiers;
	struct retired		*retired;
	struct event		*ev_hup;
	struct event		*ev_term;
	struct event		*ev_int;
	struct event		*ev_deadline;
	struct event		*ev_prune;
	struct event		*ev_status;	/* STATUS= for systemctl */
	struct event		*ev_watchdog;	/* WATCHDOG=1 from the loop */
	int			 stopping;
	int			 exit_code;
	/* --once */
	int			 once_polled;
	int			 once_sources_ok;
	long			 once_given_up_before;
};

static void
print_config_errors(const struct config_errors *errs, int to_log)
{
	for (size_t i = 0; i < errs->n; i++) {
		if (to_log)
			log_warnx("%s", errs->v[i]);
		else
			fprintf(stderr, "%s\n", errs->v[i]);
	}
}

static void
apply_log_settings(const struct daemon *d, const struct config *c)
{
	log_set_level(d->opts->debug ? LOG_DEBUG : c->log_level);
	log_set_format((enum log_format)c->log_format);
}

static void
notifiers_release(struct notifier **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		notifier_unref(v[i]);
	free(v);
}

/* Build every notifier of a configuration; all or nothing. */
static int
notifiers_build(struct daemon *d, const struct config *c,
    struct notifier ***out, size_t *nout)
{
	struct notifier_env env = { d->base, d->http, c };
	struct notifier **v = xcalloc(c->nnotifiers + 1, sizeof *v);

	for (size_t i = 0; i < c->nnotifiers; i++) {
		char *cause = NULL;

		v[i] = notifier_new(&c->notifiers[i], &env, &cause);
		if (v[i] == NULL) {
			log_warnx("notifier %s: %s", c->notifiers[i].name,
			    cause != NULL ? cause : "cannot start");
			free(cause);
			notifiers_release(v, i);
			return -1;
		}
	}
	*out = v;
	*nout = c->nnotifiers;
	return 0;
}

/* Free retired configurations whose notifiers nothing else holds. */
static void
reap_retired(struct daemon *d)
{
	struct retired **rp = &d->retired;

	while (*rp != NULL) {
		struct retired *r = *rp;
		int busy = 0;

		for (size_t i = 0; i < r->nnotifiers; i++)
			if (r->notifiers[i]->refs > 1)
				busy = 1;
		if (busy) {
			rp = &r->next;
			continue;
		}
		*rp = r->next;
		notifiers_release(r->notifiers, r->nnotifiers);
		config_free(r->config);
		free(r);
	}
}

/* One line for `systemctl status`: what is watched, the newest poll, and
 * what is waiting to be delivered. */
static void
daemon_status(struct daemon *d)
{
	char when[TIME_ISO_LEN] = "none yet";
	int64_t last_ok;
	size_t failing;
	long pending = 0;

	pollers_status(d->pollers, &last_ok, &failing);
	if (last_ok != 0)
		time_format_iso8601_sec(last_ok, when);
	if (store_delivery_count(d->store, NULL, DELIVERY_PENDING,
	    &pending) == -1)
		pending = -1;
	systemd_notify("STATUS=%zu tenant%s, %zu rule%s; last poll %s; %zu "
	    "poller%s failing; %ld deliver%s pending", d->config->ntenants,
	    d->config->ntenants == 1 ? "" : "s", d->config->nrules,
	    d->config->nrules == 1 ? "" : "s", when, failing,
	    failing == 1 ? "" : "s", pending, pending == 1 ? "y" : "ies");
}

static void
status_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct daemon *d = arg;
	struct timeval tv = { STATUS_EVERY_SEC, 0 };

	(void)fd;
	(void)ev;
	daemon_status(d);
	evtimer_add(d->ev_status, &tv);
}

/* The state store's file fails: say so where it still can. */
static void
storage_fault_cb(const char *why, void *arg)
{
	struct daemon *d = arg;

	health_storage_failed(d->health, why);
}

/* A poll cycle ended: the heartbeats hear of it. */
static void
cycle_cb(int ok, const char *summary, void *arg)
{
	struct daemon *d = arg;

	for (size_t i = 0; i < d->nnotifiers; i++)
		if (d->notifiers[i]->ops->cycle != NULL)
			d->notifiers[i]->ops->cycle(d->notifiers[i], ok,
			    summary);
}

/* The watchdog proves the loop turns: a hung loop stops pinging and
 * systemd restarts the daemon (WatchdogSec=). */
static void
watchdog_cb(evutil_socket_t fd, short ev, void *arg)
{
	(void)fd;
	(void)ev;
	(void)arg;
	systemd_notify("WATCHDOG=1");
}

static void
daemon_reload(struct daemon *d)
{
	struct config_errors errs = { NULL, 0 };
	struct config *c;
	struct notifier **nv;
	struct retired *r;
	size_t nn;

	log_notice("reloading %s", d->opts->config_path);
	systemd_notify("RELOADING=1\nMONOTONIC_USEC=%lld",
	    (long long)time_mono_us());
	if ((c = config_load(d->opts->config_path, &errs)) == NULL) {
		print_config_errors(&errs, 1);
		log_warnx("reload failed (%zu error%s): keeping the running "
		    "configuration", errs.n, errs.n == 1 ? "" : "s");
		config_errors_clear(&errs);
		systemd_notify("READY=1\nSTATUS=reload failed: keeping the "
		    "running configuration");
		return;
	}
	if (strcmp(c->state_dir, d->config->state_dir) != 0) {
		log_warnx("reload failed: state_dir cannot change while "
		    "running (%s -> %s); restart instead: keeping the running "
		    "configuration", d->config->state_dir, c->state_dir);
		config_free(c);
		systemd_notify("READY=1\nSTATUS=reload failed: state_dir "
		    "cannot change");
		return;
	}
	if (strcmp(c->runtime_dir, d->config->runtime_dir) != 0)
		log_warnx("reload: runtime_dir changed (%s -> %s): the control "
		    "socket stays where it is until a restart",
		    d->config->runtime_dir, c->runtime_dir);
	if (notifiers_build(d, c, &nv, &nn) == -1) {
		log_warnx("reload failed: keeping the running configuration");
		config_free(c);
		systemd_notify("READY=1\nSTATUS=reload failed: a notifier "
		    "could not start");
		return;
	}

	/* Swap. Cursors, records and pending deliveries live in the store,
	 * keyed by names, so they carry over to the new configuration. */
	outbox_set_notifiers(d->outbox, nv, nn);
	outbox_set_system_actions(d->outbox, &c->system_actions);
	rules_set_config(d->rules, c);
	health_set_config(d->health, c);
	pollers_set_config(d->pollers, c);
	metrics_http_listen(d->metrics_http, c->metrics.listen);
	if (d->posture != NULL)
		posture_watch_set_config(d->posture, c);
	apply_log_settings(d, c);

	r = xcalloc(1, sizeof *r);
	r->config = d->config;
	r->notifiers = d->notifiers;
	r->nnotifiers = d->nnotifiers;
	r->next = d->retired;
	d->retired = r;
	d->config = c;
	d->notifiers = nv;
	d->nnotifiers = nn;
	reap_retired(d);
	log_notice("reloaded: %zu tenant%s, %zu rule%s, %zu notifier%s",
	    c->ntenants, c->ntenants == 1 ? "" : "s", c->nrules,
	    c->nrules == 1 ? "" : "s", c->nnotifiers,
	    c->nnotifiers == 1 ? "" : "s");
	systemd_notify("READY=1");
	daemon_status(d);
}

static void
arm_deadline(struct daemon *d, int seconds)
{
	struct timeval tv = { seconds, 0 };

	evtimer_add(d->ev_deadline, &tv);
}

static void
daemon_maybe_exit(struct daemon *d)
{
	if (d->stopping && outbox_inflight(d->outbox) == 0)
		event_base_loopbreak(d->base);
}

static void
deadline_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct daemon *d = arg;

	(void)fd;
	(void)ev;
	if (d->opts->once && !d->stopping) {
		/* --once gave deliveries their time: leave what is still
		 * pending in the outbox for the next run. */
		log_warnx("--once: deliveries still pending after %ds; they "
		    "stay in the outbox", ONCE_RETRY_SEC);
		d->exit_code = EXIT_INCOMPLETE;
		d->stopping = 1;
		outbox_drain(d->outbox);
		arm_deadline(d, SHUTDOWN_GRACE_SEC);
		daemon_maybe_exit(d);
		return;
	}
	log_warnx("shutdown: %zu deliveries still in flight after %ds; they "
	    "will be resent after the restart", outbox_inflight(d->outbox),
	    SHUTDOWN_GRACE_SEC);
	event_base_loopbreak(d->base);
}

static void
daemon_stop(struct daemon *d, const char *why)
{
	if (d->stopping)
		return;
	log_notice("%s: stopping", why);
	systemd_notify("STOPPING=1\nSTATUS=stopping (%s)", why);
	d->stopping = 1;
	pollers_stop(d->pollers);
	outbox_drain(d->outbox);
	arm_deadline(d, SHUTDOWN_GRACE_SEC);
	daemon_maybe_exit(d);
}

static int
outbox_unfinished(struct daemon *d)
{
	long pending = 0, sending = 0;

	if (store_delivery_count(d->store, NULL, DELIVERY_PENDING,
	    &pending) == -1 || store_delivery_count(d->store, NULL,
	    DELIVERY_SENDING, &sending) == -1)
		return 1;
	return pending + sending > 0;
}

/* Deliveries that ended failed or expired: --once compares the count at
 * its end with the count at its start. */
static long
outbox_given_up(struct daemon *d)
{
	long failed = 0, expired = 0;

	if (store_delivery_count(d->store, NULL, DELIVERY_FAILED,
	    &failed) == -1 || store_delivery_count(d->store, NULL,
	    DELIVERY_EXPIRED, &expired) == -1)
		return -1;
	return failed + expired;
}

static void
outbox_change_cb(void *arg)
{
	struct daemon *d = arg;

	reap_retired(d);
	if (d->opts->once && d->once_polled && !d->stopping &&
	    !outbox_unfinished(d)) {
		long given_up = outbox_given_up(d);

		d->exit_code = d->once_sources_ok && given_up != -1 &&
		    given_up == d->once_given_up_before ? EXIT_OK :
		    EXIT_INCOMPLETE;
		if (given_up != d->once_given_up_before)
			log_warnx("--once: %ld deliver%s failed for good",
			    given_up - d->once_given_up_before,
			    given_up - d->once_given_up_before == 1 ? "y" :
			    "ies");
		d->stopping = 1;
	}
	daemon_maybe_exit(d);
}

static void
once_polled_cb(int ok, void *arg)
{
	struct daemon *d = arg;

	d->once_polled = 1;
	d->once_sources_ok = ok;
	if (!ok)
		log_warnx("--once: a source still failed after %ds",
		    ONCE_RETRY_SEC);
	/* Whatever a failed evaluation after a poll left unmarked. */
	for (size_t i = 0; i < d->config->ntenants; i++)
		if (rules_evaluate(d->rules, d->config->tenants[i].name) == -1) {
			log_warnx("--once: rule evaluation failed for tenant "
			    "%s", d->config->tenants[i].name);
			d->once_sources_ok = 0;
		}
	if (rules_tick(d->rules, time_now_us()) == -1)
		d->once_sources_ok = 0;
	arm_deadline(d, ONCE_RETRY_SEC);
	outbox_kick(d->outbox);
	outbox_change_cb(d);
}

/* history: keep. The store never prunes what a pending delivery needs. */
static void
prune_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct daemon *d = arg;
	struct timeval tv = { PRUNE_EVERY_SEC, 0 };

	(void)fd;
	(void)ev;
	if (store_prune(d->store, time_now_us() -
	    d->config->history_keep * USEC_PER_SEC) == -1)
		log_warnx("pruning history older than the configured keep "
		    "failed; it is retried in an hour");
	health_check_credentials(d->health, time_now_us());
	evtimer_add(d->ev_prune, &tv);
}

static void
signal_cb(evutil_socket_t sig, short ev, void *arg)
{
	struct daemon *d = arg;

	(void)ev;
	if (sig == SIGHUP) {
		if (d->opts->once)
			log_notice("SIGHUP ignored: --once runs the "
			    "configuration it started with");
		else if (!d->stopping)
			daemon_reload(d);
		return;
	}
	if (d->opts->once && !d->stopping)
		d->exit_code = EXIT_INCOMPLETE;	/* interrupted before done */
	daemon_stop(d, sig == SIGTERM ? "SIGTERM" : "SIGINT");
}

/* Teardown order matters: nothing may outlive what it points into. The
 * engine goes after the outbox (an SMTP send still in flight is handed
 * back and finished as "sent again after the restart"), one last loop turn
 * runs the frees that scheduled, and only then go the notifiers and the
 * configurations they point into. */
/* A request on the control socket: a drill announcement (drill.h). */
static json_t *
drill_request_cb(const json_t *req, long uid, const char *user, void *arg)
{
	struct daemon *d = arg;

	return drill_answer(d->store, d->config, req, uid, user,
	    time_now_us());
}

static void
daemon_free(struct daemon *d)
{
	control_free(d->control);
	metrics_http_free(d->metrics_http);
	posture_watch_free(d->posture);
	pollers_free(d->pollers);
	if (d->store != NULL)
		store_on_fault(d->store, NULL, NULL);
	health_free(d->health);
	rules_free(d->rules);
	outbox_free(d->outbox);
	http_engine_free(d->http);
	if (d->base != NULL)
		event_base_loop(d->base, EVLOOP_NONBLOCK);
	if (d->notifiers != NULL)
		notifiers_release(d->notifiers, d->nnotifiers);
	while (d->retired != NULL) {
		struct retired *r = d->retired;

		d->retired = r->next;
		notifiers_release(r->notifiers, r->nnotifiers);
		config_free(r->config);
		free(r);
	}
	if (d->ev_hup != NULL) {
		event_free(d->ev_hup);
		event_free(d->ev_term);
		event_free(d->ev_int);
	}
	if (d->ev_deadline != NULL)
		event_free(d->ev_deadline);
	if (d->ev_prune != NULL)
		event_free(d->ev_prune);
	if (d->ev_status != NULL)
		event_free(d->ev_status);
	if (d->ev_watchdog != NULL)
		event_free(d->ev_watchdog);
	store_close(d->store);
	config_free(d->config);
	if (d->base != NULL)
		event_base_free(d->base);
	metrics_process_free();
}

/* A scrape: what is read from the store rather than counted. */
static void
metrics_collect_cb(struct metrics *m, void *arg)
{
	struct daemon *d = arg;

	metrics_collect_pending(m, d->store, d->config);
}

static size_t
metrics_stale_cb(struct buf *why, void *arg)
{
	struct daemon *d = arg;

	return pollers_stale(d->pollers, time_now_us(), why);
}

/* The listener runs for the life of the process (not with --once);
 * reloads move or close it. */
static void
daemon_metrics_start(struct daemon *d)
{
	struct metrics_http_env env = { d->base, metrics_process(),
	    metrics_collect_cb, metrics_stale_cb, d };

	d->metrics_http = metrics_http_new(&env);
	metrics_http_listen(d->metrics_http, d->config->metrics.listen);
}

/* Type=notify: ready once the configuration is loaded and the loop is
 * about to run; then STATUS= now and then, and the watchdog at half its
 * interval, both from the loop. */
static void
daemon_systemd_start(struct daemon *d)
{
	int64_t wd = systemd_watchdog_usec();
	struct timeval tv;

	systemd_notify("READY=1");
	d->ev_status = evtimer_new(d->base, status_cb, d);
	event_active(d->ev_status, EV_TIMEOUT, 0);
	if (wd > 0) {
		d->ev_watchdog = event_new(d->base, -1, EV_PERSIST, watchdog_cb,
		    d);
		tv.tv_sec = (time_t)(wd / 2 / USEC_PER_SEC);
		tv.tv_usec = (suseconds_t)(wd / 2 % USEC_PER_SEC);
		event_add(d->ev_watchdog, &tv);
		systemd_notify("WATCHDOG=1");
		log_info("systemd watchdog: pinging every %lld ms",
		    (long long)(wd / 2 / 1000));
	}
}

int
daemon_run(const struct daemon_opts *opts)
{
	struct config_errors errs = { NULL, 0 };
	struct daemon d;
	sigset_t startup_signals;
	char *err = NULL;
	int lockfd, code;

	memset(&d, 0, sizeof d);
	d.opts = opts;
	/* A SIGTERM, SIGINT or SIGHUP while starting waits for the loop
	 * (unblocked once its signal events exist), so it is handled like
	 * any other: a stop during a slow start still exits cleanly. */
	sigemptyset(&startup_signals);
	sigaddset(&startup_signals, SIGHUP);
	sigaddset(&startup_signals, SIGTERM);
	sigaddset(&startup_signals, SIGINT);
	sigprocmask(SIG_BLOCK, &startup_signals, NULL);
	log_init(opts->debug ? LOG_DEBUG : LOG_INFO, LOG_FORMAT_TEXT);
	if ((d.config = config_load(opts->config_path, &errs)) == NULL) {
		print_config_errors(&errs, 0);
		log_crit("invalid configuration (%zu error%s): not starting",
		    errs.n, errs.n == 1 ? "" : "s");
		config_errors_clear(&errs);
		return EXIT_CONFIG;
	}
	apply_log_settings(&d, d.config);
	if ((lockfd = state_dir_lock(d.config->state_dir, &code)) == -1) {
		config_free(d.config);
		return code;
	}
	if (store_open(d.config->state_dir, 0, &d.store, &err) == -1) {
		log_crit("state store in %s: %s", d.config->state_dir,
		    err != NULL ? err : "cannot open");
		free(err);
		config_free(d.config);
		close(lockfd);
		return EXIT_STATE_DIR;
	}

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		fatalx("curl_global_init failed");
	signal(SIGPIPE, SIG_IGN);
	/* A file-size limit (LimitFSIZE=) makes writes fail, which the store
	 * reports, rather than kill the daemon. */
	signal(SIGXFSZ, SIG_IGN);
	if ((d.base = event_base_new()) == NULL)
		fatalx("event_base_new failed");
	d.http = http_engine_new(d.base);
	d.outbox = outbox_new(d.base, d.store);
	if (notifiers_build(&d, d.config, &d.notifiers, &d.nnotifiers) == -1) {
		log_crit("a notifier could not start: not starting");
		d.notifiers = NULL;
		daemon_free(&d);
		curl_global_cleanup();
		close(lockfd);
		return EXIT_CONFIG;
	}
	outbox_set_notifiers(d.outbox, d.notifiers, d.nnotifiers);
	outbox_set_system_actions(d.outbox, &d.config->system_actions);
	outbox_on_change(d.outbox, outbox_change_cb, &d);
	d.rules = rules_new(d.base, d.store, d.outbox);
	d.pollers = pollers_new(d.base, d.http, d.store, d.rules);
	d.health = health_new(d.store, d.outbox, d.http);
	health_set_config(d.health, d.config);
	pollers_set_health(d.pollers, d.health);
	store_on_fault(d.store, storage_fault_cb, &d);
	pollers_on_cycle(d.pollers, cycle_cb, &d);
	d.ev_deadline = evtimer_new(d.base, deadline_cb, &d);
	d.ev_hup = evsignal_new(d.base, SIGHUP, signal_cb, &d);
	d.ev_term = evsignal_new(d.base, SIGTERM, signal_cb, &d);
	d.ev_int = evsignal_new(d.base, SIGINT, signal_cb, &d);
	evsignal_add(d.ev_hup, NULL);
	evsignal_add(d.ev_term, NULL);
	evsignal_add(d.ev_int, NULL);
	sigprocmask(SIG_UNBLOCK, &startup_signals, NULL);

	rules_set_config(d.rules, d.config);
	pollers_set_config(d.pollers, d.config);
	if (opts->once) {
		d.once_given_up_before = outbox_given_up(&d);
		pollers_run_once(d.pollers, ONCE_RETRY_SEC, once_polled_cb, &d);
	} else {
		outbox_kick(d.outbox);	/* resume what a restart left */
		d.posture = posture_watch_new(d.base, d.http, d.store,
		    d.outbox, d.pollers);
		posture_watch_set_config(d.posture, d.config);
		d.ev_prune = evtimer_new(d.base, prune_cb, &d);
		event_active(d.ev_prune, EV_TIMEOUT, 0);
	}
	log_notice("glasswatchd %s started: %zu tenant%s, %zu rule%s, "
	    "%zu poller%s, state in %s", GLASSWATCH_VERSION,
	    d.config->ntenants, d.config->ntenants == 1 ? "" : "s",
	    d.config->nrules, d.config->nrules == 1 ? "" : "s",
	    pollers_count(d.pollers), pollers_count(d.pollers) == 1 ? "" : "s",
	    d.config->state_dir);
	if (!opts->once) {
		daemon_metrics_start(&d);
		/* Without the socket the daemon still watches; only drills
		 * cannot be announced. */
		d.control = control_new(d.base, drill_request_cb, &d);
		(void)control_listen(d.control, d.config->runtime_dir);
		daemon_systemd_start(&d);
	}

	d.exit_code = EXIT_OK;
	event_base_dispatch(d.base);
	log_notice("stopped");
	code = d.exit_code;
	daemon_free(&d);
	curl_global_cleanup();
	close(lockfd);
	return code;
}
