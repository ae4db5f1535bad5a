package cavra

// Principal is who an action is taken for: a person, an agent acting for one, or a service.
type Principal struct {
	ID        string   `json:"id"`
	Kind      string   `json:"kind,omitempty"` // user, agent, service
	Name      string   `json:"name,omitempty"`
	Tenant    string   `json:"tenant,omitempty"`
	Workspace string   `json:"workspace,omitempty"`
	Roles     []string `json:"roles,omitempty"`
}
