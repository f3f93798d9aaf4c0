/* SPDX-License-Identifier: Apache-2.0 */
/*
 * CUDA graphs: kernel nodes (duration fixed when the node is added), memory
 * allocation nodes (charged when added, released with the graph) and free
 * nodes (bookkeeping only).  A launch runs the kernel nodes back to back.
 */
#include <stdlib.h>

#include "cuda_local.h"

enum { NODE_KERNEL = 1, NODE_MEM_ALLOC, NODE_MEM_FREE };

struct CUgraphNode_st {
	int type;
	int phys;
	uint64_t dur_ns;     /* kernel */
	uint64_t size;       /* mem alloc */
	struct CUgraphNode_st *next;
};

struct CUgraph_st {
	uint32_t magic;
	struct CUgraphNode_st *head, **tail;
};

struct exec_kernel {
	int phys;
	uint64_t dur_ns;
};

struct CUgraphExec_st {
	uint32_t magic;
	int n;
	struct exec_kernel k[];
};

CUresult cuGraphCreate(CUgraph *phGraph, unsigned int flags)
{
	struct CUgraph_st *g;
	CUresult r = cu_check_init();
	if (r)
		return r;
	if (!phGraph || flags)
		return CUDA_ERROR_INVALID_VALUE;
	g = calloc(1, sizeof *g);
	if (!g)
		return CUDA_ERROR_OUT_OF_MEMORY;
	g->magic = CU_MAGIC_GRAPH;
	g->tail = &g->head;
	*phGraph = g;
	return CUDA_SUCCESS;
}

static CUresult add_node(CUgraphNode *out, CUgraph g, const CUgraphNode *deps, size_t ndeps,
			 struct CUgraphNode_st *proto)
{
	struct CUgraphNode_st *n;
	if (!out || (ndeps && !deps))
		return CUDA_ERROR_INVALID_VALUE;
	n = malloc(sizeof *n);
	if (!n)
		return CUDA_ERROR_OUT_OF_MEMORY;
	*n = *proto;
	n->next = NULL;
	pthread_mutex_lock(&cu_mu);
	*g->tail = n;
	g->tail = &n->next;
	pthread_mutex_unlock(&cu_mu);
	*out = n;
	return CUDA_SUCCESS;
}

static int graph_ok(CUgraph g)
{
	return g && g->magic == CU_MAGIC_GRAPH;
}

static CUresult kernel_node(CUgraphNode *out, CUgraph g, const CUgraphNode *deps, size_t ndeps,
			    CUfunction f, void **params, CUcontext ctx)
{
	struct CUgraphNode_st proto = {.type = NODE_KERNEL};
	struct CUctx_st *c;
	CUresult r = cu_current_ctx(&c);
	if (ctx && cu_ctx_valid(ctx)) {
		c = ctx;
		r = CUDA_SUCCESS;
	}
	if (r)
		return r;
	if (!graph_ok(g))
		return CUDA_ERROR_INVALID_VALUE;
	r = cu_kernel_duration(f, params, &proto.dur_ns);
	if (r)
		return r;
	proto.phys = c->phys;
	return add_node(out, g, deps, ndeps, &proto);
}

CUresult cuGraphAddKernelNode(CUgraphNode *phGraphNode, CUgraph hGraph,
			      const CUgraphNode *dependencies, size_t numDependencies,
			      const CUDA_KERNEL_NODE_PARAMS_v1 *p)
{
	if (!p)
		return CUDA_ERROR_INVALID_VALUE;
	return kernel_node(phGraphNode, hGraph, dependencies, numDependencies, p->func,
			   p->kernelParams, NULL);
}

CUresult cuGraphAddKernelNode_v2(CUgraphNode *phGraphNode, CUgraph hGraph,
				 const CUgraphNode *dependencies, size_t numDependencies,
				 const CUDA_KERNEL_NODE_PARAMS_v2 *p)
{
	if (!p)
		return CUDA_ERROR_INVALID_VALUE;
	return kernel_node(phGraphNode, hGraph, dependencies, numDependencies, p->func,
			   p->kernelParams, p->ctx);
}

CUresult cuGraphAddMemAllocNode(CUgraphNode *phGraphNode, CUgraph hGraph,
				const CUgraphNode *dependencies, size_t numDependencies,
				CUDA_MEM_ALLOC_NODE_PARAMS *p)
{
	struct CUgraphNode_st proto = {.type = NODE_MEM_ALLOC};
	CUresult r = cu_check_init();
	if (r)
		return r;
	if (!graph_ok(hGraph) || !p || !p->bytesize ||
	    p->poolProps.location.type != CU_MEM_LOCATION_TYPE_DEVICE)
		return CUDA_ERROR_INVALID_VALUE;
	if (p->poolProps.location.id < 0 || p->poolProps.location.id >= cu_nvis)
		return CUDA_ERROR_INVALID_DEVICE;
	proto.phys = cu_vis[p->poolProps.location.id];
	proto.size = p->bytesize;
	if (sim_charge(proto.phys, proto.size, 0) < 0)
		return CUDA_ERROR_OUT_OF_MEMORY;
	r = add_node(phGraphNode, hGraph, dependencies, numDependencies, &proto);
	if (r) {
		sim_uncharge(proto.phys, proto.size, 0);
		return r;
	}
	p->dptr = cu_dev_address(proto.phys, proto.size);
	return CUDA_SUCCESS;
}

CUresult cuGraphAddMemFreeNode(CUgraphNode *phGraphNode, CUgraph hGraph,
			       const CUgraphNode *dependencies, size_t numDependencies,
			       CUdeviceptr dptr)
{
	struct CUgraphNode_st proto = {.type = NODE_MEM_FREE};
	CUresult r = cu_check_init();
	if (r)
		return r;
	if (!graph_ok(hGraph) || !dptr)
		return CUDA_ERROR_INVALID_VALUE;
	return add_node(phGraphNode, hGraph, dependencies, numDependencies, &proto);
}

CUresult cuGraphInstantiateWithFlags(CUgraphExec *phGraphExec, CUgraph hGraph,
				     unsigned long long flags)
{
	struct CUgraphExec_st *x;
	int n = 0;
	CUresult r = cu_check_init();
	(void)flags;
	if (r)
		return r;
	if (!phGraphExec || !graph_ok(hGraph))
		return CUDA_ERROR_INVALID_VALUE;
	pthread_mutex_lock(&cu_mu);
	for (struct CUgraphNode_st *nd = hGraph->head; nd; nd = nd->next)
		n += nd->type == NODE_KERNEL;
	x = calloc(1, sizeof *x + (size_t)n * sizeof x->k[0]);
	if (x) {
		x->magic = CU_MAGIC_EXEC;
		for (struct CUgraphNode_st *nd = hGraph->head; nd; nd = nd->next) {
			if (nd->type != NODE_KERNEL)
				continue;
			x->k[x->n].phys = nd->phys;
			x->k[x->n++].dur_ns = nd->dur_ns;
		}
	}
	pthread_mutex_unlock(&cu_mu);
	if (!x)
		return CUDA_ERROR_OUT_OF_MEMORY;
	*phGraphExec = x;
	return CUDA_SUCCESS;
}

CUresult cuGraphInstantiate_v2(CUgraphExec *phGraphExec, CUgraph hGraph, CUgraphNode *phErrorNode,
			       char *logBuffer, size_t bufferSize)
{
	if (phErrorNode)
		*phErrorNode = NULL;
	if (logBuffer && bufferSize)
		logBuffer[0] = 0;
	return cuGraphInstantiateWithFlags(phGraphExec, hGraph, 0);
}

CUresult cuGraphInstantiate(CUgraphExec *phGraphExec, CUgraph hGraph, CUgraphNode *phErrorNode,
			    char *logBuffer, size_t bufferSize)
{
	return cuGraphInstantiate_v2(phGraphExec, hGraph, phErrorNode, logBuffer, bufferSize);
}

CUresult cuGraphLaunch(CUgraphExec hGraphExec, CUstream hStream)
{
	struct CUctx_st *c;
	struct CUstream_st *obj;
	CUresult r = cu_stream_resolve(hStream, &c, &obj);
	if (r)
		return r;
	if (!hGraphExec || hGraphExec->magic != CU_MAGIC_EXEC)
		return CUDA_ERROR_INVALID_VALUE;
	for (int i = 0; i < hGraphExec->n; i++)
		cu_launch_one(hGraphExec->k[i].phys, obj, hGraphExec->k[i].dur_ns);
	return CUDA_SUCCESS;
}

CUresult cuGraphLaunch_ptsz(CUgraphExec hGraphExec, CUstream hStream)
{
	return cuGraphLaunch(hGraphExec, hStream);
}

CUresult cuGraphExecDestroy(CUgraphExec hGraphExec)
{
	if (!hGraphExec || hGraphExec->magic != CU_MAGIC_EXEC)
		return CUDA_ERROR_INVALID_VALUE;
	hGraphExec->magic = 0;
	free(hGraphExec);
	return CUDA_SUCCESS;
}

CUresult cuGraphDestroy(CUgraph hGraph)
{
	if (!graph_ok(hGraph))
		return CUDA_ERROR_INVALID_VALUE;
	hGraph->magic = 0;
	for (struct CUgraphNode_st *n = hGraph->head, *next; n; n = next) {
		next = n->next;
		if (n->type == NODE_MEM_ALLOC)
			sim_uncharge(n->phys, n->size, 0);
		free(n);
	}
	free(hGraph);
	return CUDA_SUCCESS;
}
