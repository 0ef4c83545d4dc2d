package config

import "github.com/coreos/vcontext/report"

// ReportJSON is a validation outcome in JSON form (what `flint validate
// --format json` prints): whether the config is valid, the parse error when
// there are no entries to say why, and every entry with its position.
type ReportJSON struct {
	Valid   bool        `json:"valid"`
	Error   string      `json:"error,omitempty"`
	Entries []EntryJSON `json:"entries"`
}

// EntryJSON is one report entry.
type EntryJSON struct {
	Kind    string `json:"kind"`
	Path    string `json:"path,omitempty"`
	Line    int64  `json:"line,omitempty"`
	Column  int64  `json:"column,omitempty"`
	Message string `json:"message"`
}

// NewReportJSON renders rpt and the parse error err.
func NewReportJSON(valid bool, rpt Report, err error) ReportJSON {
	res := ReportJSON{Valid: valid, Entries: []EntryJSON{}}
	if err != nil && len(rpt.Entries) == 0 {
		res.Error = err.Error()
	}
	for _, en := range rpt.Entries {
		je := EntryJSON{Kind: en.Kind.String(), Message: en.Message}
		if en.Context.Len() > 0 {
			je.Path = en.Context.String()
		}
		if en.Marker.StartP != nil {
			je.Line, je.Column = en.Marker.StartP.Line, en.Marker.StartP.Column
		}
		res.Entries = append(res.Entries, je)
	}
	return res
}

// HasWarnings reports whether rpt has a warning entry.
func HasWarnings(rpt Report) bool {
	for _, en := range rpt.Entries {
		if en.Kind == report.Warn {
			return true
		}
	}
	return false
}
