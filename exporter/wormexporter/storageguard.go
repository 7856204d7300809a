package wormexporter

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/extension/xextension/storage"
	"go.uber.org/zap"

	"github.com/agentaudit/otelcol-agentaudit/exporter/wormexporter/internal/metadata"
)

// The collector's persistent queue (exporterhelper v0.162) loses a queued
// request when its storage refuses a write at the moment a consumer takes
// the request: getNextItem advances the read index in memory before it
// writes the new read index and reads the item in one batch, and when that
// batch fails (a full state disk: ENOSPC) it gives the item up, while the
// next successful write records the advanced index. The request had been
// acknowledged to the agent; its records never reach the archive.
// (Upstream open-telemetry/opentelemetry-collector#8963 fixed the same
// fault on the write side and left the read side, reckoning its writes
// too small to fail.)
//
// storageGuard stands between the queue and its storage client and does
// not let that batch fail: it retries it until the storage takes it. The
// queue holds its lock meanwhile, so new requests wait for an answer until
// space returns (no acknowledgement, nothing lost), and the consumers hold.
// At shutdown the guard gives up, so the collector can stop: the item's
// read was not recorded, and a restart reads it again. The queue then
// tries to delete the item it could not take; a full disk may still take
// a batch that only deletes (bbolt reuses its file's free pages), which
// would leave the stored read index pointing at a deleted item. And any
// later write of the queue's metadata (another consumer finishing its
// export) would record the advanced read index, skipping the item on
// restart. So once the guard has given up a taking, it refuses every
// batch that writes: an exported item whose deletion is refused is sent
// again after the restart (a duplicate, not a loss).

// guardedLogs is the worm exporter with its queue's storage guarded.
type guardedLogs struct {
	exporter.Logs
	guard *storageGuard
}

func (g guardedLogs) Start(ctx context.Context, host component.Host) error {
	g.guard.starting.Store(true)
	defer g.guard.starting.Store(false)
	return g.Logs.Start(ctx, g.guard.host(host))
}

func (g guardedLogs) Shutdown(ctx context.Context) error {
	g.guard.stop()
	return g.Logs.Shutdown(ctx)
}

type storageGuard struct {
	id        component.ID // the queue's storage extension
	logger    *zap.Logger
	telemetry *metadata.TelemetryBuilder
	stopped   chan struct{}
	once      sync.Once
	// starting: the queue is starting and puts back the requests that
	// were in flight at the last stop.
	starting atomic.Bool
	// gaveUp: the guard gave up a taking at shutdown; no more writes.
	gaveUp atomic.Bool
	// Retry pauses: the first, and the longest.
	minWait, maxWait time.Duration
}

func newStorageGuard(id component.ID, logger *zap.Logger, tb *metadata.TelemetryBuilder) *storageGuard {
	return &storageGuard{id: id, logger: logger, telemetry: tb, stopped: make(chan struct{}),
		minWait: 100 * time.Millisecond, maxWait: 5 * time.Second}
}

func (g *storageGuard) stop() { g.once.Do(func() { close(g.stopped) }) }

func (g *storageGuard) host(h component.Host) component.Host { return guardedHost{Host: h, g: g} }

type guardedHost struct {
	component.Host
	g *storageGuard
}

func (h guardedHost) GetExtensions() map[component.ID]component.Component {
	exts := h.Host.GetExtensions()
	se, ok := exts[h.g.id].(storage.Extension)
	if !ok {
		return exts // the queue reports the missing or wrong extension itself
	}
	out := make(map[component.ID]component.Component, len(exts))
	for id, e := range exts {
		out[id] = e
	}
	out[h.g.id] = guardedExtension{Extension: se, g: h.g}
	return out
}

type guardedExtension struct {
	storage.Extension
	g *storageGuard
}

func (e guardedExtension) GetClient(ctx context.Context, kind component.Kind, id component.ID, name string) (storage.Client, error) {
	c, err := e.Extension.GetClient(ctx, kind, id, name)
	if err != nil {
		return nil, err
	}
	return guardedClient{Client: c, g: e.g}, nil
}

type guardedClient struct {
	storage.Client
	g *storageGuard
}

// Batch retries a batch that both writes and reads (the queue taking an
// item) until it succeeds, the context ends or the exporter shuts down.
// Other batches pass through: a failed write of a new item is the queue's
// refusal, which the receiver answers with 503.
//
// While the queue starts, every batch that writes is retried too: the
// queue then puts back the requests in flight at the last stop (killed,
// or stopped while an export was retried). It deletes them from storage
// and writes each again; a write that fails there loses the request, as
// the dispatched list it came from is gone from memory. The start waits
// for the storage instead: nothing can be queued on a full state disk
// anyway.
func (c guardedClient) Batch(ctx context.Context, ops ...*storage.Operation) error {
	if c.g.gaveUp.Load() && writes(ops) {
		return errGaveUp
	}
	err := c.Client.Batch(ctx, ops...)
	if err == nil {
		return err
	}
	guarded := takesItem(ops) || (c.g.starting.Load() && writes(ops))
	if !guarded {
		return err
	}
	// Every refusal met is counted, the first and each failed retry.
	c.g.telemetry.ExporterWormQueueStorageRefusals.Add(context.WithoutCancel(ctx), 1)
	switch {
	case takesItem(ops):
		c.g.logger.Error("The persistent queue cannot record that it took a request from storage "+
			"(is the disk of the file_storage directory full?). The request is kept: the queue waits, "+
			"and new requests wait for an answer, until the storage accepts writes again.", zap.Error(err))
	default:
		c.g.logger.Error("The persistent queue cannot put back the requests in flight at the last stop "+
			"(is the disk of the file_storage directory full?). The collector's start waits "+
			"until the storage accepts writes again.", zap.Error(err))
	}
	start := time.Now()
	wait := c.g.minWait
	for {
		select {
		case <-ctx.Done():
			c.g.gaveUp.Store(true)
			return err
		case <-c.g.stopped:
			c.g.gaveUp.Store(true)
			return err
		case <-time.After(wait):
		}
		if err = c.Client.Batch(ctx, ops...); err == nil {
			c.g.logger.Info("The persistent queue's storage accepts writes again; the queue goes on",
				zap.Duration("waited", time.Since(start)))
			return nil
		}
		c.g.telemetry.ExporterWormQueueStorageRefusals.Add(context.WithoutCancel(ctx), 1)
		wait = min(2*wait, c.g.maxWait)
	}
}

// takesItem reports whether a batch writes and reads: the persistent
// queue's batch that records the new read index and reads the item.
func takesItem(ops []*storage.Operation) bool {
	var get, set bool
	for _, op := range ops {
		switch op.Type {
		case storage.Get:
			get = true
		case storage.Set:
			set = true
		}
	}
	return get && set
}

var errGaveUp = errors.New("the storage guard gave up taking a request at shutdown: the queue's storage takes no more writes, so the request is read again after the restart")

// writes reports whether a batch changes the storage.
func writes(ops []*storage.Operation) bool {
	for _, op := range ops {
		if op.Type != storage.Get {
			return true
		}
	}
	return false
}
