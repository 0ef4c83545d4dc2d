package providers

import (
	"encoding/xml"
	"errors"
	"fmt"
	"strings"
)

// OVF environment documents: VMware's guestinfo.ovfenv (properties) and
// Azure's ovf-env.xml on the provisioning CD (CustomData).

const ovfEnvNS = "http://schemas.dmtf.org/ovf/environment/1"

// ParseOVFProperties returns the key → value properties of an OVF
// environment document (<PropertySection><Property oe:key oe:value/>).
func ParseOVFProperties(doc []byte) (map[string]string, error) {
	var env struct {
		Properties []struct {
			Attrs []xml.Attr `xml:",any,attr"`
		} `xml:"PropertySection>Property"`
	}
	if err := xml.Unmarshal(doc, &env); err != nil {
		return nil, fmt.Errorf("parsing OVF environment: %w", xmlError(err))
	}
	out := map[string]string{}
	for _, p := range env.Properties {
		var k, v string
		var hasKey bool
		for _, a := range p.Attrs {
			if a.Name.Space != ovfEnvNS && a.Name.Space != "" && a.Name.Space != "oe" {
				continue
			}
			switch a.Name.Local {
			case "key":
				k, hasKey = a.Value, true
			case "value":
				v = a.Value
			}
		}
		if hasKey {
			out[k] = v
		}
	}
	return out, nil
}

// AzureOVF is what flint needs from Azure's ovf-env.xml.
type AzureOVF struct {
	HostName   string
	CustomData string // base64 as found in the document
}

// ParseAzureOVF parses Azure's ovf-env.xml (the LinuxProvisioningConfigurationSet
// of the ProvisioningSection).
func ParseAzureOVF(doc []byte) (AzureOVF, error) {
	var env struct {
		XMLName xml.Name `xml:"Environment"`
		Sets    []struct {
			Type       string `xml:"ConfigurationSetType"`
			HostName   string `xml:"HostName"`
			CustomData string `xml:"CustomData"`
		} `xml:"ProvisioningSection>LinuxProvisioningConfigurationSet"`
	}
	if err := xml.Unmarshal(doc, &env); err != nil {
		return AzureOVF{}, fmt.Errorf("parsing ovf-env.xml: %w", xmlError(err))
	}
	if len(env.Sets) == 0 {
		return AzureOVF{}, fmt.Errorf("parsing ovf-env.xml: no LinuxProvisioningConfigurationSet")
	}
	s := env.Sets[0]
	return AzureOVF{HostName: strings.TrimSpace(s.HostName), CustomData: strings.TrimSpace(s.CustomData)}, nil
}

// errNotXML: the document (which carries secrets: user data, passwords of
// the appliance) is not well-formed XML.
var errNotXML = errors.New("not well-formed XML")

// xmlError keeps the line of a syntax error but none of the document's
// text, which encoding/xml quotes (e.g. "invalid character entity &…;").
func xmlError(err error) error {
	var se *xml.SyntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("%w (line %d)", errNotXML, se.Line)
	}
	return errNotXML
}
