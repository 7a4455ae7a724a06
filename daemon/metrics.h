/*
 * metrics.h: the HTTP endpoint of the supervisor (evhttp, on its loop).
 *
 *   GET /metrics   Prometheus text format (version 0.0.4), from a status
 *                  snapshot taken at that moment (supervisor_status())
 *   GET /healthz   200 and {"status":"ok",...} when every loop is
 *                  responsive; 503 and {"status":"unhealthy","problems":
 *                  [{"loop","task","problem"}]} when a loop is hung, a
 *                  task failed or a worker or task is restarting
 *
 * The families (every name starts with loopd_, counters end in _total,
 * sizes are in bytes, times in seconds):
 *   loopd_build_info{version}                      gauge, 1
 *   loopd_task_state{loop,task,plugin,state}       gauge, 1 for the state
 *                                                  it is in, 0 for others
 *   loopd_task_restarts_total{loop,task,plugin}    counter
 *   loopd_task_uptime_seconds{loop,task,plugin}    gauge, running tasks
 *   loopd_errors_total{loop,task,type}             counter: task_error
 *                                                  and task_hang records
 *                                                  by error type (crash,
 *                                                  exit, hang, protocol,
 *                                                  or the plugin's);
 *                                                  task="" when no task
 *                                                  was to blame
 *   loopd_worker_up{loop}                          gauge
 *   loopd_worker_hung{loop}                        gauge
 *   loopd_worker_restarts_total{loop}              counter
 *   loopd_worker_resident_memory_bytes{loop}       gauge, from /proc
 *   loopd_worker_open_fds{loop}                    gauge, from /proc
 *   loopd_log_records_dropped_total                counter
 *   loopd_plugin_NAME_total{loop,task,plugin}      counter, and
 *   loopd_plugin_NAME{loop,task,plugin}            gauge: what plugins
 *                                                  declared with
 *                                                  loopd_metric_counter()
 *                                                  and loopd_metric_gauge()
 * and, from what each running worker claims in its shared page (wstats.h),
 *   loopd_loop_lag_seconds{loop,le}                histogram: heartbeat
 *                                                  lateness, buckets
 *                                                  1ms..1s and +Inf
 *   loopd_loop_callbacks_total{loop}               counter
 *   loopd_loop_slow_callbacks_total{loop}          counter, debug mode
 *   loopd_executor_queue_depth{loop}               gauge
 *   loopd_executor_active_jobs{loop}               gauge
 *   loopd_executor_jobs_completed_total{loop}      counter
 *   loopd_executor_jobs_rejected_total{loop}       counter
 *   loopd_executor_jobs_timed_out_total{loop}      counter
 *
 * Supervisor main thread only.
 */
#ifndef LOOPD_METRICS_H
#define LOOPD_METRICS_H

struct event_base;
struct metrics;
struct supervisor;

/*
 * Serve on host:port (port 0: any free one) for sv.  Says where in an info
 * record (event "metrics_listen", with "port"); NULL when it cannot
 * listen, said in an error record.
 */
struct metrics	*metrics_open(struct event_base *base, const char *host,
		    unsigned port, struct supervisor *sv);

/* Stop serving.  NULL is fine. */
void		 metrics_free(struct metrics *m);

#endif /* LOOPD_METRICS_H */
