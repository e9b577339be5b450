package io.postern.proxy.docker;

import static org.assertj.core.api.Assertions.assertThat;

import jakarta.mail.Folder;
import jakarta.mail.Session;
import jakarta.mail.Store;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.eclipse.angus.mail.imap.IMAPStore;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;
import org.testcontainers.containers.GenericContainer;
import org.testcontainers.containers.Network;
import org.testcontainers.containers.wait.strategy.Wait;
import org.testcontainers.images.builder.ImageFromDockerfile;
import org.testcontainers.junit.jupiter.Testcontainers;
import org.testcontainers.utility.MountableFile;

/**
 * The image that {@code docker/Dockerfile} builds, run in front of a Dovecot container with the
 * compose file's shard configuration: Angus Mail logs in through it and Dovecot names itself,
 * and the admin listener answers with its token. Where there is no Docker engine (these
 * machines) the class is skipped.
 */
@Testcontainers(disabledWithoutDocker = true)
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class DockerImageIT {

    private static final Path ROOT = Path.of("..").toAbsolutePath().normalize();
    private static final String TOKEN = "docker-it-token";

    private Network network;
    private GenericContainer<?> dovecot;
    private GenericContainer<?> postern;

    @BeforeAll
    void start(@TempDir Path tmp) throws Exception {
        network = Network.newNetwork();
        dovecot = new GenericContainer<>("dovecot/dovecot:2.3.21")
                .withNetwork(network)
                .withNetworkAliases("dovecot-a")
                .withCopyFileToContainer(MountableFile.forHostPath(ROOT.resolve("docker/compose/dovecot/shard-a.conf")),
                        "/etc/dovecot/dovecot.conf")
                .withCopyFileToContainer(MountableFile.forHostPath(ROOT.resolve("docker/compose/dovecot/common.conf")),
                        "/etc/dovecot/common.conf")
                .withCopyFileToContainer(MountableFile.forHostPath(ROOT.resolve("docker/compose/users")), "/etc/dovecot/users")
                .withExposedPorts(143)
                .waitingFor(Wait.forListeningPort());
        dovecot.start();

        ImageFromDockerfile image = new ImageFromDockerfile("postern-docker-it", true)
                .withDockerfilePath("docker/Dockerfile");
        for (String part : List.of("pom.xml", "imap/pom.xml", "imap/src", "tls/pom.xml", "tls/src", "policies/pom.xml",
                "policies/src", "proxy/pom.xml", "proxy/src", "bench/pom.xml", "bench/src", "docker")) {
            image.withFileFromPath(part, ROOT.resolve(part));
        }
        Path token = tmp.resolve("admin.token");
        Files.writeString(token, TOKEN + "\n");
        Path config = tmp.resolve("postern.yml");
        Files.writeString(config, """
                listeners: [{name: imap, bind: "0.0.0.0:1143"}]
                backends: [{name: shard-a, address: "dovecot-a:143"}]
                routing: {strategy: static, default: shard-a}
                admin: {bind: "0.0.0.0:9143", token_file: /etc/postern/admin.token}
                """);
        postern = new GenericContainer<>(image)
                .withNetwork(network)
                .withCopyFileToContainer(MountableFile.forHostPath(config, 0644), "/etc/postern/postern.yml")
                .withCopyFileToContainer(MountableFile.forHostPath(token, 0644), "/etc/postern/admin.token")
                .withExposedPorts(1143, 9143)
                .waitingFor(Wait.forHttp("/readyz").forPort(9143).withStartupTimeout(Duration.ofMinutes(2)));
        postern.start();
    }

    @AfterAll
    void stop() {
        if (postern != null) {
            postern.stop();
        }
        if (dovecot != null) {
            dovecot.stop();
        }
        if (network != null) {
            network.close();
        }
    }

    @Test
    void aRealClientLogsInThroughTheImageAndReachesTheShard() throws Exception {
        Properties p = new Properties();
        p.put("mail.imap.host", postern.getHost());
        p.put("mail.imap.port", String.valueOf(postern.getMappedPort(1143)));
        Store store = Session.getInstance(p).getStore("imap");
        store.connect("alice", "password");
        try {
            Map<String, String> id = ((IMAPStore) store).id(null);
            assertThat(id).containsEntry("x-backend", "shard-a");
            Folder inbox = store.getFolder("INBOX");
            inbox.open(Folder.READ_ONLY);
            assertThat(inbox.getMessageCount()).isZero();
            inbox.close(false);
        } finally {
            store.close();
        }
    }

    @Test
    void theAdminListenerWantsItsToken() throws Exception {
        HttpClient http = HttpClient.newHttpClient();
        URI sessions = URI.create("http://" + postern.getHost() + ":" + postern.getMappedPort(9143) + "/sessions");
        assertThat(http.send(HttpRequest.newBuilder(sessions).build(), HttpResponse.BodyHandlers.ofString()).statusCode())
                .isEqualTo(401);
        assertThat(http.send(HttpRequest.newBuilder(sessions).header("Authorization", "Bearer " + TOKEN).build(),
                HttpResponse.BodyHandlers.ofString()).statusCode()).isEqualTo(200);
    }
}
