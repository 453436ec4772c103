package naming

import "strings"

// Volumes are the volumes of a container of project: a named volume
// ("data:/var/lib/x[:ro]") gets the project in front ("shop-data"), as
// Compose does, so two projects' "data" never meet; a host path ("/srv/x:
// /x", "./x:/x") is left as it is. legacy is what the container being
// replaced mounts (destination → volume name): a volume it mounts under
// the name luma.yml gives, made before names carried the project, keeps
// that name, so no data is left behind; kept lists those.
func Volumes(project string, vols []string, legacy map[string]string) (out, kept []string) {
	for _, v := range vols {
		name, rest, ok := strings.Cut(v, ":")
		if !ok || name == "" || strings.ContainsAny(name[:1], "/.~") {
			out = append(out, v)
			continue
		}
		dest, _, _ := strings.Cut(rest, ":")
		if legacy[dest] == name {
			out, kept = append(out, v), append(kept, name)
			continue
		}
		out = append(out, project+"-"+name+":"+rest)
	}
	return out, kept
}
