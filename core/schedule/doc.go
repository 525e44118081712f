// Package schedule is the schedules resource group: recurring runs of an
// agent, team or workflow on a cron expression, fired exactly once per due
// time across every replica, and their history (schedule runs).
//
// # Shapes
//
// Schedule and ScheduleRun carry AgentOS's ScheduleResponse and
// ScheduleRunResponse fields (agno os/routers/schedules/schema.py) plus
// ours: a schedule names its target directly (Target: kind and id), is
// owned by the user who created it (UserID: its runs run as that user, and
// under user isolation only that user sees it) and says what to do with
// fires missed while no replica ran (CatchUp). AgentOS's endpoint + method
// form is accepted when it names a run endpoint (POST
// /agents|teams|workflows/{id}/runs) and is mapped onto the target; the
// payload's "message" is the run's message and its "session_id", when
// given, the session the runs go to.
//
// # Cron expressions and time zones
//
// cron_expr is a 5-field cron expression (minute hour day-of-month month
// day-of-week) or one of robfig/cron's descriptors (@yearly, @monthly,
// @weekly, @daily, @hourly, and, beyond AgentOS, @every <duration>, at
// least one second). A cron expression is evaluated on the wall clock of
// the schedule's IANA timezone: robfig/cron computes the next wall-clock
// time and it is then placed in the zone. Across a DST change that means
// each wall-clock time fires once: a time the spring-forward jump skips
// (02:30 in America/New_York) fires when the clock reaches it after the
// jump (03:30 daylight time), and a time the fall-back repeats (01:30)
// fires at its first occurrence only. @every counts real time.
//
// # Exactly once
//
// Tick runs on one replica at a time (the gateway registers it as a
// periodic River job: River's leader enqueues it, unique while it runs),
// and every step it takes is also claimed in the state database, so a
// tick running twice (a leader change) never does a thing twice:
//
//   - a due fire is claimed with a compare-and-set that moves next_run_at
//     from the due time to the next one (Store.ClaimFire), in the same
//     transaction as its schedule run, which is unique on (schedule, due
//     time, attempt);
//   - the run is started with the schedule run's id as its idempotency key,
//     so starting it again (after a crash between the claim and the start)
//     returns the same run;
//   - a retry is claimed by clearing the failed attempt's retry_at in the
//     transaction that records the next attempt (Store.ClaimRetry);
//   - a schedule run's status moves only from the status it was read with
//     (Store.UpdateScheduleRun is a compare-and-set on it).
//
// Runs are background runs (the durable queue), so a fire survives the
// crash of the replica executing it.
//
// # Late and missed fires
//
// A due time missed by less than the catch-up grace (Config.Grace, 2
// minutes by default: River's leader failover takes 15-20 s) fires late,
// each due time once, in order. A due time missed by more than that (every
// replica was down) follows the schedule's catch_up: "once" (the default)
// fires once now for everything missed, then goes on with the next regular
// due time; "none" skips what was missed.
//
// # Statuses
//
// A schedule run is running while its run runs, then success (the run
// completed; output is {"content": ...}), failed (the run ended in error
// or could not start; error says why), cancelled, or timeout (it ran past
// timeout_seconds: the run is cancelled). A run paused for a person
// (confirmation, user input, an approval) makes it paused, with the run's
// requirements, and it takes the run's final status once the run is
// continued and ends. A paused run is never timed out (a person may take
// days); once continued it has timeout_seconds again. A failed attempt is retried max_retries times,
// retry_delay_seconds after it failed, as a new schedule run (attempt + 1).
package schedule
