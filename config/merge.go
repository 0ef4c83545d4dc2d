package config

import (
	"reflect"
)

// Merge merges child into parent with the reference's semantics:
//   - structs merge field by field; a set pointer in the child wins, an unset
//     one keeps the parent's value; plain values take the child's;
//   - option lists (file appends, mkfs/mount/mdadm/luks options) are
//     concatenated, parent first;
//   - other lists are keyed: a child entry with the key of a parent entry is
//     merged into it in place, new keys are appended;
//   - files, directories and links share one key space, as do shouldExist and
//     shouldNotExist: a child entry replaces a parent entry of the other kind;
//   - an HTTP header with a null value in the child deletes the parent's.
//
// Neither argument is modified. Merged into an empty parent (the common
// case: no base config), a config is its own merge, so the child itself
// is returned, sharing its lists and pointers, instead of a deep copy of
// every entry.
func Merge(parent, child Config) Config {
	if reflect.ValueOf(parent).IsZero() {
		return child
	}
	return merge(parent, child)
}

func merge(parent, child Config) Config {
	out := reflect.New(reflect.TypeOf(Config{})).Elem()
	mergeValue(reflect.ValueOf(parent), reflect.ValueOf(child), out)
	return out.Interface().(Config)
}

// concatLists are the lists whose entries are not keyed (duplicates allowed).
var concatLists = map[reflect.Type]map[string]bool{
	reflect.TypeOf(FileEmbedded1{}): {"Append": true},
	reflect.TypeOf(Filesystem{}):    {"Options": true, "MountOptions": true},
	reflect.TypeOf(Raid{}):          {"Options": true},
	reflect.TypeOf(Luks{}):          {"Options": true},
}

// sharedKeys groups lists of one struct that share a key space.
var sharedKeys = map[reflect.Type][]string{
	reflect.TypeOf(Storage{}):         {"Directories", "Files", "Links"},
	reflect.TypeOf(KernelArguments{}): {"ShouldExist", "ShouldNotExist"},
}

// keyOf returns the merge key of a list entry.
func keyOf(v reflect.Value) string {
	switch x := v.Interface().(type) {
	case Resource:
		return resourceKey(&x)
	case HTTPHeader:
		return x.Name
	case Disk:
		return x.Device
	case Partition:
		return partitionKey(&x)
	case Raid:
		return x.Name
	case Filesystem:
		return x.Device
	case File:
		return x.Path
	case Directory:
		return x.Path
	case Link:
		return x.Path
	case Luks:
		return x.Name
	case Tang:
		return x.URL
	case Unit:
		return x.Name
	case Dropin:
		return x.Name
	case PasswdUser:
		return x.Name
	case PasswdGroup:
		return x.Name
	}
	if v.Kind() == reflect.String {
		return v.String()
	}
	panic("config: no merge key for " + v.Type().String())
}

func cloneValue(v reflect.Value) reflect.Value {
	out := reflect.New(v.Type()).Elem()
	mergeValue(reflect.Zero(v.Type()), v, out)
	return out
}

func mergeValue(parent, child, out reflect.Value) {
	switch parent.Kind() {
	case reflect.Struct:
		mergeStruct(parent, child, out)
	case reflect.Pointer:
		src := parent
		if !child.IsNil() {
			src = child
		}
		if src.IsNil() {
			return
		}
		n := reflect.New(src.Type().Elem())
		n.Elem().Set(src.Elem())
		out.Set(n)
	case reflect.Slice:
		// only reached for slices outside keyed handling (none today)
		out.Set(child)
	default:
		out.Set(child)
	}
}

func mergeStruct(parent, child, out reflect.Value) {
	t := parent.Type()
	concat := concatLists[t]
	shared := sharedKeys[t]
	isShared := func(name string) bool {
		for _, s := range shared {
			if s == name {
				return true
			}
		}
		return false
	}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		pv, cv, ov := parent.Field(i), child.Field(i), out.Field(i)
		switch {
		case f.Type.Kind() != reflect.Slice:
			mergeValue(pv, cv, ov)
		case concat[f.Name]:
			n := reflect.MakeSlice(f.Type, 0, pv.Len()+cv.Len())
			for j := 0; j < pv.Len(); j++ {
				n = reflect.Append(n, cloneValue(pv.Index(j)))
			}
			for j := 0; j < cv.Len(); j++ {
				n = reflect.Append(n, cloneValue(cv.Index(j)))
			}
			if n.Len() > 0 {
				ov.Set(n)
			}
		case isShared(f.Name):
			// handled below, together with its siblings
		default:
			ov.Set(mergeKeyed(pv, cv, f.Type == reflect.TypeOf(HTTPHeaders{})))
		}
	}
	if len(shared) > 0 {
		mergeShared(parent, child, out, shared)
	}
}

// mergeKeyed merges two keyed lists.
func mergeKeyed(pv, cv reflect.Value, headers bool) reflect.Value {
	if pv.Len() == 0 && cv.Len() == 0 {
		return reflect.Zero(pv.Type())
	}
	res := reflect.MakeSlice(pv.Type(), 0, pv.Len()+cv.Len())
	idx := make(map[string]int, pv.Len())
	for j := 0; j < pv.Len(); j++ {
		idx[keyOf(pv.Index(j))] = res.Len()
		res = reflect.Append(res, cloneValue(pv.Index(j)))
	}
	var deleted map[int]bool
	for j := 0; j < cv.Len(); j++ {
		c := cv.Index(j)
		k := keyOf(c)
		if headers && c.FieldByName("Value").IsNil() {
			if at, ok := idx[k]; ok {
				if deleted == nil {
					deleted = map[int]bool{}
				}
				deleted[at] = true
			}
			continue
		}
		if at, ok := idx[k]; ok && !deleted[at] {
			m := reflect.New(c.Type()).Elem()
			mergeValue(res.Index(at), c, m)
			res.Index(at).Set(m)
			continue
		}
		idx[k] = res.Len()
		res = reflect.Append(res, cloneValue(c))
	}
	if len(deleted) > 0 {
		kept := reflect.MakeSlice(pv.Type(), 0, res.Len())
		for j := 0; j < res.Len(); j++ {
			if !deleted[j] {
				kept = reflect.Append(kept, res.Index(j))
			}
		}
		res = kept
	}
	if res.Len() == 0 {
		return reflect.Zero(pv.Type())
	}
	return res
}

// mergeShared merges lists sharing one key space: an entry of the child
// replaces a parent entry with the same key in a sibling list.
func mergeShared(parent, child, out reflect.Value, names []string) {
	// keys present in each child list
	childKeys := make(map[string]string) // key -> list name
	for _, n := range names {
		cv := child.FieldByName(n)
		for j := 0; j < cv.Len(); j++ {
			childKeys[keyOf(cv.Index(j))] = n
		}
	}
	for _, n := range names {
		pv := parent.FieldByName(n)
		// drop parent entries that the child redefines in another list
		kept := reflect.MakeSlice(pv.Type(), 0, pv.Len())
		for j := 0; j < pv.Len(); j++ {
			if owner, ok := childKeys[keyOf(pv.Index(j))]; ok && owner != n {
				continue
			}
			kept = reflect.Append(kept, pv.Index(j))
		}
		out.FieldByName(n).Set(mergeKeyed(kept, child.FieldByName(n), false))
	}
}
