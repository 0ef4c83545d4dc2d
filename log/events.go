package log

import (
	"fmt"
	"time"
)

// The MESSAGE_IDs of flint's journal events. They were generated once and
// never change (docs/logging.md lists them), so that
//
//	journalctl MESSAGE_ID=c9e9d6786c5448ad814a5490c0621836
//
// finds every failed stage on every machine.
const (
	MessageConfigFetched = "147179630c6a4be49c6e0e2a63a3efef"
	MessageStageStarted  = "dae2e492e8ad48ee9c2edf3e73813d99"
	MessageStageFinished = "71b61c8656094f5295d4259561f02c39"
	MessageStageFailed   = "c9e9d6786c5448ad814a5490c0621836"
)

// ConfigFetched logs that the user config was acquired from source (a
// redacted URL or path), with MESSAGE_ID=MessageConfigFetched and the field
// FLINT_CONFIG_SOURCE.
func (l *Logger) ConfigFetched(source string) {
	if l == nil {
		return
	}
	// no hash of the config: it holds secrets
	l.write(entry{lv: LevelInfo, msg: fmt.Sprintf("fetched config %s", source),
		id: MessageConfigFetched, vars: map[string]string{"FLINT_CONFIG_SOURCE": source}})
}

// StageStarted logs "stage started" with MESSAGE_ID=MessageStageStarted.
// The stage is the logger's (WithStage, else its first prefix).
func (l *Logger) StageStarted() {
	if l == nil {
		return
	}
	l.termStage(l.stageName())
	l.write(entry{lv: LevelInfo, msg: "stage started", id: MessageStageStarted})
}

// StageFinished logs "stage finished in D (N actions)" with
// MESSAGE_ID=MessageStageFinished and FLINT_DURATION_USEC.
func (l *Logger) StageFinished(d time.Duration, actions int) {
	if l == nil {
		return
	}
	l.write(entry{lv: LevelInfo, msg: fmt.Sprintf("stage finished in %s (%d actions)", d.Round(time.Millisecond), actions),
		id: MessageStageFinished, dur: d, hasDur: true})
}

// StageFailed logs "stage failed after D: err" at error level with
// MESSAGE_ID=MessageStageFailed, FLINT_DURATION_USEC and FLINT_ERROR (err
// passed through RedactText).
func (l *Logger) StageFailed(d time.Duration, err string) {
	if l == nil {
		return
	}
	err = RedactText(err)
	l.write(entry{lv: LevelErr, msg: fmt.Sprintf("stage failed after %s: %s", d.Round(time.Millisecond), err),
		id: MessageStageFailed, dur: d, hasDur: true, err: err})
}
