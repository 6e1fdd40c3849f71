package tracer

import (
	"errors"
	"fmt"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/capprof/capprof/bpf"
)

// ErrSelectionFull means the kernel's map of selected cgroups has no room
// for another id (Config.SelectedCgroups).
var ErrSelectionFull = errors.New("cgroup selection map is full")

// SelectCgroup adds a cgroup v2 id to the live selection: a task in that
// cgroup, or in a child of it, is recorded while the selection is active.
// It takes effect on the next check, without reloading. A full map gives
// an error wrapping ErrSelectionFull.
func (t *Tracer) SelectCgroup(id uint64) error {
	err := t.coll.Maps[bpf.CapprofMapSelectedCgroups].Update(id, uint8(1), ebpf.UpdateAny)
	if errors.Is(err, unix.E2BIG) {
		return fmt.Errorf("select cgroup %d: %w (%d entries: raise the selection's size)", id, ErrSelectionFull, t.selectionSize)
	}
	if err != nil {
		return fmt.Errorf("select cgroup %d: %w", id, err)
	}
	return nil
}

// UnselectCgroup removes a cgroup id from the live selection; an id that
// is not selected is no error.
func (t *Tracer) UnselectCgroup(id uint64) error {
	err := t.coll.Maps[bpf.CapprofMapSelectedCgroups].Delete(id)
	if err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
		return fmt.Errorf("unselect cgroup %d: %w", id, err)
	}
	return nil
}

// SetSelectionActive switches the live selection on (only selected cgroups
// are recorded, the others' checks are dropped and counted) or off (every
// task the static filters let through is recorded).
func (t *Tracer) SetSelectionActive(on bool) error {
	if err := t.coll.Maps[bpf.CapprofMapSelectionActive].Update(uint32(0), uint32(boolByte(on)), ebpf.UpdateAny); err != nil {
		return fmt.Errorf("switch cgroup selection: %w", err)
	}
	return nil
}

// UnselectedSkipped reads how many checks the kernel dropped per
// capability, summed over CPUs, because their task was outside the active
// selection, since the program was loaded.
func (t *Tracer) UnselectedSkipped() (CapCounts, error) {
	return t.capCounts(bpf.CapprofMapUnselectedSkipped)
}
