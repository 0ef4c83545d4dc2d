package providers

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"

	"github.com/flintboot/flint/log"
	"github.com/flintboot/flint/resource"
)

// packet (Equinix Metal): user data from the metadata service; after each
// stage the outcome is posted to the phone-home events endpoint.
type packet struct{}

func (packet) Name() string { return "packet" }

const packetBase = "https://metadata.packet.net"

func (packet) Fetch(ctx context.Context, env *Env) ([]byte, error) {
	return fetchHTTP(ctx, env, get(env.endpoint(packetBase+"/userdata")), notFoundIsEmpty)
}

// PacketEventsURL derives the events endpoint from the phone_home_url of
// the metadata document as Ignition does: a trailing "/phone-home" is
// dropped and "/events" appended.
func PacketEventsURL(phoneHome string) (string, error) {
	u, err := url.Parse(phoneHome)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("invalid phone_home_url %q", log.Redact(phoneHome))
	}
	return strings.TrimSuffix(phoneHome, "/phone-home") + "/events", nil
}

// PacketEvent is the body posted to the events endpoint.
type PacketEvent struct {
	State   string `json:"state"`
	Message string `json:"message"`
}

// NewPacketEvent builds the event for a stage outcome.
func NewPacketEvent(stage string, stageErr error) PacketEvent {
	if stageErr != nil {
		return PacketEvent{State: "failed", Message: fmt.Sprintf("[%s] flint failed: %v", stage, stageErr)}
	}
	return PacketEvent{State: "running", Message: fmt.Sprintf("[%s] flint stage succeeded", stage)}
}

func (packet) Status(ctx context.Context, env *Env, stage string, stageErr error) error {
	md, err := env.Fetcher.FetchBytes(ctx, get(env.endpoint(packetBase+"/metadata")), 1<<20)
	if err != nil {
		return fmt.Errorf("packet status: fetching metadata: %w", err)
	}
	var m struct {
		PhoneHomeURL string `json:"phone_home_url"`
	}
	if err := json.Unmarshal(md, &m); err != nil {
		return fmt.Errorf("packet status: parsing metadata: %w", err)
	}
	if m.PhoneHomeURL == "" {
		return fmt.Errorf("packet status: metadata has no phone_home_url")
	}
	ev, err := PacketEventsURL(env.endpoint(m.PhoneHomeURL))
	if err != nil {
		return fmt.Errorf("packet status: %w", err)
	}
	body, _ := json.Marshal(NewPacketEvent(stage, stageErr))
	_, err = env.Fetcher.FetchBytes(ctx, resource.Source{
		URL:     ev,
		Method:  "POST",
		Body:    body,
		Headers: []resource.Header{{Name: "Content-Type", Value: "application/json"}},
	}, 1<<20)
	if err != nil {
		return fmt.Errorf("packet status: posting event: %w", err)
	}
	env.Log.Info("packet: reported stage %s to %s", stage, log.Redact(ev))
	return nil
}
