package providers

import (
	"fmt"
	"sort"
)

// The platform table: every platform id flint accepts and the provider
// behind it. Plain data, no init() registration. Each row names the file
// the provider lives in.
func table() map[string]func() Provider {
	return map[string]func() Provider{
		"akamai":          func() Provider { return akamai{} },                     // akamai.go
		"aliyun":          func() Provider { return aliyun{} },                     // aliyun.go
		"applehv":         func() Provider { return applehv{} },                    // applehv.go
		"aws":             func() Provider { return &aws{} },                       // aws.go
		"azure":           func() Provider { return azure{} },                      // azure.go
		"azurestack":      func() Provider { return azurestack{} },                 // azurestack.go
		"brightbox":       func() Provider { return openstack{name: "brightbox"} }, // openstack.go
		"cloudstack":      func() Provider { return cloudstack{} },                 // cloudstack.go
		"digitalocean":    func() Provider { return digitalocean{} },               // digitalocean.go
		"exoscale":        func() Provider { return exoscale{} },                   // exoscale.go
		"file":            func() Provider { return file{} },                       // file.go
		"gcp":             func() Provider { return gcp{} },                        // gcp.go
		"hetzner":         func() Provider { return hetzner{} },                    // hetzner.go
		"hyperv":          func() Provider { return hyperv{} },                     // hyperv.go
		"ibmcloud":        func() Provider { return ibmcloud{} },                   // ibmcloud.go
		"kubevirt":        func() Provider { return kubevirt{} },                   // kubevirt.go
		"metal":           func() Provider { return metal{name: "metal"} },         // metal.go
		"nutanix":         func() Provider { return nutanix{} },                    // nutanix.go
		"nvidiabluefield": func() Provider { return nvidiabluefield{} },            // nvidiabluefield.go
		"openstack":       func() Provider { return openstack{name: "openstack"} }, // openstack.go
		"oraclecloud":     func() Provider { return oraclecloud{} },                // oraclecloud.go
		"packet":          func() Provider { return packet{} },                     // packet.go
		"powervs":         func() Provider { return powervs{} },                    // powervs.go
		"proxmoxve":       func() Provider { return proxmoxve{} },                  // proxmoxve.go
		"qemu":            func() Provider { return qemu{} },                       // qemu.go
		"scaleway":        func() Provider { return scaleway{} },                   // scaleway.go
		"upcloud":         func() Provider { return upcloud{} },                    // upcloud.go
		"virtualbox":      func() Provider { return virtualbox{} },                 // virtualbox.go
		"vmware":          func() Provider { return vmware{} },                     // vmware.go
		"vultr":           func() Provider { return vultr{} },                      // vultr.go
		"zvm":             func() Provider { return zvm{} },                        // zvm.go

		// Flatcar ids that have no provider of their own: no platform
		// config, like metal (SPEC-NOTES §9.2 patch 16, legacy OEM list).
		"cloudsigma":        func() Provider { return metal{name: "cloudsigma"} },
		"rackspace":         func() Provider { return metal{name: "rackspace"} },
		"rackspace-onmetal": func() Provider { return metal{name: "rackspace-onmetal"} },
		"vagrant":           func() Provider { return metal{name: "vagrant"} },
		"interoute":         func() Provider { return metal{name: "interoute"} },
		"niftycloud":        func() Provider { return metal{name: "niftycloud"} },
	}
}

// aliases maps Flatcar OEM ids to flint platform ids (bootengine's mapping
// plus vagrant-virtualbox, which the legacy OEM list served with the
// virtualbox provider).
var aliases = map[string]string{
	"ec2":                "aws",
	"gce":                "gcp",
	"pxe":                "metal",
	"vagrant-virtualbox": "virtualbox",
}

// Lookup returns the provider for a platform id or a Flatcar alias.
func Lookup(id string) (Provider, error) {
	if a, ok := aliases[id]; ok {
		id = a
	}
	mk, ok := table()[id]
	if !ok {
		return nil, fmt.Errorf("%w %q", ErrUnknownPlatform, id)
	}
	return mk(), nil
}

// Canonical returns the platform id an id or alias stands for.
func Canonical(id string) (string, error) {
	if a, ok := aliases[id]; ok {
		return a, nil
	}
	if _, ok := table()[id]; !ok {
		return "", fmt.Errorf("%w %q", ErrUnknownPlatform, id)
	}
	return id, nil
}

// IDs lists every accepted platform id, aliases included, sorted.
func IDs() []string {
	var ids []string
	for id := range table() {
		ids = append(ids, id)
	}
	for a := range aliases {
		ids = append(ids, a)
	}
	sort.Strings(ids)
	return ids
}
