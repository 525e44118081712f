package main

// agentgate components export|import: move components (/components)
// between gateways as YAML, through their REST API.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"

	"github.com/goccy/go-yaml"
	"github.com/spf13/cobra"
)

// componentsFile is the YAML document export writes and import reads.
type componentsFile struct {
	Components []exportedComponent `yaml:"components" json:"components"`
}

// exportedComponent is one component with every version.
type exportedComponent struct {
	ID             string           `yaml:"component_id" json:"component_id"`
	Type           string           `yaml:"component_type" json:"component_type"`
	Name           string           `yaml:"name" json:"name"`
	Description    string           `yaml:"description,omitempty" json:"description,omitempty"`
	Metadata       map[string]any   `yaml:"metadata,omitempty" json:"metadata,omitempty"`
	CurrentVersion *int             `yaml:"current_version,omitempty" json:"current_version,omitempty"`
	Versions       []exportedConfig `yaml:"versions" json:"-"`
}

// exportedConfig is one version.
type exportedConfig struct {
	Version int            `yaml:"version" json:"version"`
	Label   string         `yaml:"label,omitempty" json:"label,omitempty"`
	Stage   string         `yaml:"stage" json:"stage"`
	Notes   string         `yaml:"notes,omitempty" json:"notes,omitempty"`
	Config  map[string]any `yaml:"config" json:"config"`
}

func componentsCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "components", Short: "Move components (versioned agents, teams, workflows) between gateways as YAML"}
	var base, token string
	cmd.PersistentFlags().StringVar(&base, "url", "", "gateway base URL (default: http://$AGENTGATE_ADDR, else http://127.0.0.1:7777)")
	cmd.PersistentFlags().StringVar(&token, "token", "", "bearer token (default: $AGENTGATE_TOKEN) with the components scope")

	var typ, out string
	var ids []string
	export := &cobra.Command{
		Use:   "export",
		Short: "Write the gateway's components, every version, as YAML (stdout or -o FILE)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c := newAPIClient(base, token, "components")
			doc, err := exportComponents(cmd.Context(), c, typ, ids)
			if err != nil {
				return err
			}
			b, err := yaml.Marshal(doc)
			if err != nil {
				return err
			}
			if out == "" || out == "-" {
				_, err = cmd.OutOrStdout().Write(b)
				return err
			}
			if err := os.WriteFile(out, b, 0o600); err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "exported %d components to %s\n", len(doc.Components), out)
			return nil
		},
	}
	export.Flags().StringVar(&typ, "type", "", "only components of this type: agent, team or workflow")
	export.Flags().StringSliceVar(&ids, "id", nil, "only these component ids (repeat or comma-separate)")
	export.Flags().StringVarP(&out, "output", "o", "", "file to write (default: stdout)")

	importCmd := &cobra.Command{
		Use:   "import FILE",
		Short: "Create the components of a YAML export (FILE, or - for stdin), with their versions and current version",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var (
				b   []byte
				err error
			)
			if args[0] == "-" {
				b, err = io.ReadAll(cmd.InOrStdin())
			} else {
				b, err = os.ReadFile(args[0])
			}
			if err != nil {
				return err
			}
			var doc componentsFile
			if err := yaml.UnmarshalWithOptions(b, &doc, yaml.Strict(), yaml.DisallowUnknownField()); err != nil {
				return fmt.Errorf("%s: %s", args[0], yaml.FormatError(err, false, true))
			}
			c := newAPIClient(base, token, "components")
			n, err := importComponents(cmd.Context(), c, doc)
			fmt.Fprintf(cmd.ErrOrStderr(), "imported %d of %d components\n", n, len(doc.Components))
			return err
		},
	}
	cmd.AddCommand(export, importCmd)
	return cmd
}

// exportComponents reads every component (of typ; of ids when given) with
// its versions.
func exportComponents(ctx context.Context, c *apiClient, typ string, ids []string) (*componentsFile, error) {
	doc := &componentsFile{Components: []exportedComponent{}}
	for page := 1; ; page++ {
		q := url.Values{"limit": {"100"}, "page": {strconv.Itoa(page)}}
		if typ != "" {
			q.Set("component_type", typ)
		}
		var p struct {
			Data []exportedComponent `json:"data"`
			Meta struct {
				TotalPages int `json:"total_pages"`
			} `json:"meta"`
		}
		if _, err := c.do(ctx, http.MethodGet, "/components?"+q.Encode(), nil, &p); err != nil {
			return nil, err
		}
		for _, comp := range p.Data {
			if len(ids) > 0 && !slices.Contains(ids, comp.ID) {
				continue
			}
			var versions []exportedConfig
			if _, err := c.do(ctx, http.MethodGet, "/components/"+url.PathEscape(comp.ID)+"/configs", nil, &versions); err != nil {
				return nil, err
			}
			slices.SortFunc(versions, func(a, b exportedConfig) int { return a.Version - b.Version })
			comp.Versions = versions
			doc.Components = append(doc.Components, comp)
		}
		if page >= p.Meta.TotalPages {
			break
		}
	}
	// Oldest first: the order they were created in.
	slices.Reverse(doc.Components)
	for _, id := range ids {
		if !slices.ContainsFunc(doc.Components, func(c exportedComponent) bool { return c.ID == id }) {
			return nil, fmt.Errorf("component %q not found", id)
		}
	}
	return doc, nil
}

// importComponents creates each component, its versions (same numbers,
// stages, labels and notes) and its current version; it goes on past a
// component that fails and reports every failure.
func importComponents(ctx context.Context, c *apiClient, doc componentsFile) (int, error) {
	var errs []error
	n := 0
	// Agents first, then teams, then workflows: they name the ones before.
	order := map[string]int{"agent": 0, "team": 1, "workflow": 2}
	comps := slices.Clone(doc.Components)
	slices.SortStableFunc(comps, func(a, b exportedComponent) int { return order[a.Type] - order[b.Type] })
	for _, comp := range comps {
		if err := importComponent(ctx, c, comp); err != nil {
			errs = append(errs, fmt.Errorf("component %q: %w", comp.ID, err))
			continue
		}
		n++
	}
	return n, errors.Join(errs...)
}

func importComponent(ctx context.Context, c *apiClient, comp exportedComponent) error {
	if comp.ID == "" {
		return errors.New("component_id is required")
	}
	body := map[string]any{"component_id": comp.ID, "component_type": comp.Type, "name": comp.Name,
		"description": comp.Description, "metadata": comp.Metadata}
	if _, err := c.do(ctx, http.MethodPost, "/components", body, nil); err != nil {
		return err
	}
	base := "/components/" + url.PathEscape(comp.ID)
	for _, v := range comp.Versions {
		vb := map[string]any{"config": v.Config, "version": v.Version, "label": v.Label, "stage": v.Stage,
			"notes": v.Notes, "set_current": false}
		if _, err := c.do(ctx, http.MethodPost, base+"/configs", vb, nil); err != nil {
			return err
		}
	}
	if comp.CurrentVersion != nil {
		if _, err := c.do(ctx, http.MethodPost, base+"/configs/"+strconv.Itoa(*comp.CurrentVersion)+"/set-current", nil, nil); err != nil {
			return err
		}
	}
	return nil
}
