/*
 * oldabi: a test plugin as built against the ABI 1.0 header: its
 * descriptor has the 1.0 layout, abi_minor 0 and the 1.0 size.  Its
 * reserved fields hold what 1.1 gives a meaning to (the NOTIFY_READY flag
 * and an init_process that fails): loopd must not read them, so the task
 * runs as soon as start returns.
 */
#include <stdint.h>

#include <loopd/plugin.h>

/* struct loopd_plugin of ABI 1.0. */
struct loopd_plugin_1_0 {
	uint32_t	abi_major;
	uint32_t	abi_minor;
	uint32_t	size;
	uint32_t	reserved0;
	const char	*name;
	const char	*version;
	const char	*description;
	int		(*start)(loopd_task *task, const loopd_args *args,
			    void **state);
	void		(*cancel)(loopd_task *task, void *state);
	void		(*stop)(void *state);
	void		*reserved[8];
};

static int
oldabi_start(loopd_task *t, const loopd_args *args, void **state)
{
	loopd_log(t, LOOPD_LOG_INFO, "old plugin serving");
	return 0;
}

static int
oldabi_not_an_init(void)
{
	return 1;
}

LOOPD_API const struct loopd_plugin_1_0 loopd_plugin_descriptor = {
	.abi_major = 1,
	.abi_minor = 0,
	.size = sizeof(struct loopd_plugin_1_0),
	.reserved0 = 0x01,	/* LOOPD_PLUGIN_NOTIFY_READY in 1.1 */
	.name = "oldabi",
	.version = "1.0",
	.start = oldabi_start,
	.reserved = { (void *)oldabi_not_an_init },	/* init_process */
};
