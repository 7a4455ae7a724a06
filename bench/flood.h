/*
 * flood.h: the record that the log benchmark writes, shared by the flood
 * plugin (bench/plugins/flood.c) and its single-process peer (log-flood.c),
 * so that both write the same bytes.
 *
 * The message is "flood record I of N " followed by 'x' up to FLOOD_MSG_LEN
 * bytes in all; the record also names loop, task and plugin "flood".
 */
#ifndef BENCH_FLOOD_H
#define BENCH_FLOOD_H

#define FLOOD_NAME	"flood"
#define FLOOD_MSG_LEN	100
#define FLOOD_FMT	"flood record %09lu of %09lu %.*s"
/* Bytes of FLOOD_FMT before the padding: "flood record " 9 " of " 9 " ". */
#define FLOOD_HEAD_LEN	(13 + 9 + 4 + 9 + 1)
#define FLOOD_PAD \
	"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
#define FLOOD_PAD_LEN	(FLOOD_MSG_LEN - FLOOD_HEAD_LEN)

#endif /* BENCH_FLOOD_H */
