/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Commands on the driver, devices and contexts: init, dev, info, devtotal,
 * retain, release, reset, state, ctxcreate, ctxdestroy, sync, meminfo.
 * Device commands use the device of the last dev (0 before any).
 */
#include "client.h"

static int init(struct client *c, char **args)
{
	int n = 0, v = 0;
	CUresult r = c->a->init(0);

	(void)args;
	if (!r)
		r = c->a->devcount(&n);
	c->a->drvver(&v);
	kv(c, "count=%d version=%d", n, v);
	return r;
}

static int retain_current(struct client *c)
{
	CUcontext ctx;
	CUresult r = c->a->pretain(&ctx, c->dev);

	return r ? r : c->a->ctxset(ctx);
}

/* dev:N: cuDeviceGet, then its primary context made current. */
static int dev(struct client *c, char **args)
{
	CUresult r = c->a->devget(&c->dev, (int)arg_int(args, 0, 0));

	return r ? r : retain_current(c);
}

static int retain(struct client *c, char **args)
{
	(void)args;
	return retain_current(c);
}

static int info(struct client *c, char **args)
{
	const struct cuda_api *a = c->a;
	char devname[128] = "", pci[32] = "", uuid[48];
	CUuuid u;
	size_t total = 0;
	int sms = 0, ordinal = (int)arg_int(args, 0, c->dev);
	CUdevice d;
	CUresult r = a->devget(&d, ordinal);

	if (!r)
		r = a->devname(devname, sizeof devname, d);
	if (!r)
		r = a->devuuid(&u, d);
	if (!r)
		r = a->devtotal(&total, d);
	if (!r)
		r = a->devattr(&sms, CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, d);
	if (!r)
		r = a->devpci(pci, sizeof pci, d);
	if (r)
		return r;
	char *p = uuid + sprintf(uuid, "GPU-");
	for (int i = 0; i < 16; i++)
		p += sprintf(p, "%02x%s", (unsigned char)u.bytes[i],
			     i == 3 || i == 5 || i == 7 || i == 9 ? "-" : "");
	kv(c, "dev=%d total=%zu sms=%d pci=%s uuid=%s name=\"%s\"", ordinal, total, sms, pci, uuid,
	   devname);
	return 0;
}

static int devtotal(struct client *c, char **args)
{
	size_t t = 0;
	CUresult r = c->a->devtotal(&t, c->dev);

	(void)args;
	if (!r)
		kv(c, "total=%zu", t);
	return r;
}

static int release(struct client *c, char **args)
{
	(void)args;
	return c->a->prelease(c->dev);
}

static int reset(struct client *c, char **args)
{
	(void)args;
	return c->a->preset(c->dev);
}

static int state(struct client *c, char **args)
{
	unsigned int flags = 0;
	int active = 0;
	CUresult r = c->a->pstate(c->dev, &flags, &active);

	(void)args;
	kv(c, "active=%d", active);
	return r;
}

static int ctxcreate(struct client *c, char **args)
{
	(void)args;
	return c->a->ctxcreate(&c->created, 0, c->dev);
}

static int ctxdestroy(struct client *c, char **args)
{
	(void)args;
	return c->a->ctxdestroy(c->created);
}

static int sync_ctx(struct client *c, char **args)
{
	double t0 = now_ms();
	CUresult r = c->a->ctxsync();

	(void)args;
	kv(c, "ms=%.3f", now_ms() - t0);
	return r;
}

static int meminfo(struct client *c, char **args)
{
	size_t f = 0, t = 0;
	CUresult r = c->a->meminfo(&f, &t);

	(void)args;
	kv(c, "free=%zu total=%zu", f, t);
	return r;
}

const struct command device_commands[] = {
	{"init", 0, init, 0},
	{"dev", 1, dev, 0},
	{"retain", 0, retain, 0},
	{"info", 1, info, 0},
	{"devtotal", 0, devtotal, 0},
	{"release", 0, release, 0},
	{"reset", 0, reset, 0},
	{"state", 0, state, 0},
	{"ctxcreate", 0, ctxcreate, 0},
	{"ctxdestroy", 0, ctxdestroy, 0},
	{"sync", 0, sync_ctx, 0},
	{"meminfo", 0, meminfo, 0},
	{0},
};
