package io.postern.proxy.config;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import io.postern.policies.engine.PolicySet;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The whole configuration, read once from YAML into immutable records. Every record checks
 * itself as it is read; the first problem stops the load with a {@link ConfigException} that
 * names the key path. The keys are documented in the README.
 *
 * @param tls the certificates for TLS listeners; {@code null} when no listener uses TLS
 * @param admin the admin listener; {@code null} when there is none (the default)
 * @param policies the policy entries and groups ({@link PolicySet#EMPTY} when none)
 */
public record PosternConfig(
        List<ListenerConfig> listeners,
        TlsConfig tls,
        Map<String, BackendConfig> backends,
        RoutingConfig routing,
        LimitsConfig limits,
        TimeoutsConfig timeouts,
        AdminConfig admin,
        PolicySet policies,
        IoConfig io) {

    static final Set<String> KEYS =
            Set.of("listeners", "tls", "backends", "routing", "groups", "policies", "admin", "limits", "timeouts", "io");

    public static PosternConfig load(Path file) throws ConfigException {
        String text;
        try {
            text = Files.readString(file);
        } catch (IOException e) {
            throw new ConfigException(file + ": cannot read: " + e.getMessage());
        }
        Path dir = file.toAbsolutePath().getParent();
        return parse(text, dir == null ? Path.of("").toAbsolutePath() : dir);
    }

    /** Parses YAML; relative file names are taken from the working directory. */
    public static PosternConfig parse(String yaml) throws ConfigException {
        return parse(yaml, Path.of("").toAbsolutePath());
    }

    /** Parses YAML; relative file names are taken from {@code baseDir}. */
    public static PosternConfig parse(String yaml, Path baseDir) throws ConfigException {
        JsonNode root;
        try {
            root = new ObjectMapper(new YAMLFactory()).readTree(yaml);
        } catch (JsonProcessingException e) {
            throw new ConfigException("not valid YAML: " + e.getOriginalMessage()
                    + (e.getLocation() == null ? "" : " (line " + e.getLocation().getLineNr() + ")"));
        }
        ConfigNode top = new ConfigNode(root, "", baseDir);
        if (top.isMissing()) {
            throw new ConfigException("the configuration is empty");
        }
        top.requireMapping(KEYS);

        List<ListenerConfig> listeners = new ArrayList<>();
        Set<String> listenerNames = new HashSet<>();
        for (ConfigNode n : top.get("listeners").list()) {
            ListenerConfig l = ListenerConfig.read(n);
            if (!listenerNames.add(l.name())) {
                throw n.get("name").error("duplicate listener name \"" + l.name() + "\"");
            }
            listeners.add(l);
        }
        if (listeners.isEmpty()) {
            throw top.get("listeners").error("at least one listener is required");
        }

        Map<String, BackendConfig> backends = new LinkedHashMap<>();
        for (ConfigNode n : top.get("backends").list()) {
            BackendConfig b = BackendConfig.read(n);
            if (backends.putIfAbsent(b.name(), b) != null) {
                throw n.get("name").error("duplicate backend name \"" + b.name() + "\"");
            }
        }
        if (backends.isEmpty()) {
            throw top.get("backends").error("at least one backend is required");
        }

        List<ConfigNode> backendNodes = top.get("backends").list();
        for (int i = 0; i < backendNodes.size(); i++) {
            String fallback = backendNodes.get(i).get("fallback").string(null);
            if (fallback != null && !backends.containsKey(fallback)) {
                throw backendNodes.get(i).get("fallback").error("unknown backend \"" + fallback + "\"");
            }
        }
        RoutingConfig routing = RoutingConfig.read(top.get("routing"), backends.keySet());

        TlsConfig tls = top.get("tls").isMissing() ? null : TlsConfig.read(top.get("tls"));
        for (int i = 0; i < listeners.size(); i++) {
            if (listeners.get(i).usesTls() && tls == null) {
                throw top.get("listeners").list().get(i).get("tls")
                        .error("\"" + listeners.get(i).tls() + "\" needs certificates under tls.certificates");
            }
        }
        PolicySet policies = PoliciesConfig.read(top.get("groups"), top.get("policies"), listenerNames);
        AdminConfig admin = top.get("admin").isMissing() ? null : AdminConfig.read(top.get("admin"));
        LimitsConfig limits = top.get("limits").isMissing() ? LimitsConfig.defaults() : LimitsConfig.read(top.get("limits"));
        TimeoutsConfig timeouts =
                top.get("timeouts").isMissing() ? TimeoutsConfig.defaults() : TimeoutsConfig.read(top.get("timeouts"));
        IoConfig io = top.get("io").isMissing() ? IoConfig.defaults() : IoConfig.read(top.get("io"));
        return new PosternConfig(List.copyOf(listeners), tls, Map.copyOf(backends), routing, limits, timeouts, admin, policies,
                io);
    }
}
