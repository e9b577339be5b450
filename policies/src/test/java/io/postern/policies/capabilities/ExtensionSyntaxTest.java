package io.postern.policies.capabilities;

import static org.assertj.core.api.Assertions.assertThat;

import io.postern.policies.Command;
import io.postern.policies.CommandVerdict;
import io.postern.policies.Decision;
import io.postern.policies.engine.Glob;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ExtensionSyntaxTest {

    @Test
    void condstoreAndQresyncArgumentsOfBaseCommands() {
        assertThat(used("a SELECT INBOX (CONDSTORE)")).containsExactly("CONDSTORE");
        assertThat(used("a EXAMINE INBOX (QRESYNC (67890007 20050715194045000 41,43:211))")).containsExactly("QRESYNC");
        assertThat(used("a FETCH 1:* (FLAGS) (CHANGEDSINCE 12345)")).containsExactly("CONDSTORE");
        assertThat(used("a UID FETCH 300:500 (FLAGS) (CHANGEDSINCE 12345 VANISHED)")).containsExactly("CONDSTORE", "QRESYNC");
        assertThat(used("a FETCH 1 (MODSEQ FLAGS)")).containsExactly("CONDSTORE");
        assertThat(used("a UID STORE 1:7 (UNCHANGEDSINCE 320162338) +FLAGS.SILENT (\\Deleted)")).containsExactly("CONDSTORE");
        assertThat(used("a SEARCH MODSEQ \"/flags/\\\\draft\" all 620162338")).containsExactly("CONDSTORE");
        assertThat(used("a STATUS INBOX (MESSAGES HIGHESTMODSEQ)")).containsExactly("CONDSTORE");
    }

    @Test
    void listExtendedAndListStatusAndEsearch() {
        assertThat(used("a LIST (SUBSCRIBED) \"\" *")).containsExactly("LIST-EXTENDED");
        assertThat(used("a LIST \"\" (INBOX Drafts)")).containsExactly("LIST-EXTENDED");
        assertThat(used("a LIST \"\" % RETURN (CHILDREN)")).containsExactly("LIST-EXTENDED");
        assertThat(used("a LIST \"\" % RETURN (STATUS (MESSAGES UNSEEN))")).containsExactly("LIST-EXTENDED", "LIST-STATUS");
        assertThat(used("a UID SEARCH RETURN (MIN MAX) UNSEEN")).containsExactly("ESEARCH");
    }

    @Test
    void namesStringsLiteralsAndSectionsThatLookLikeKeywordsAreNotKeywords() {
        assertThat(used("a SELECT CONDSTORE")).as("a mailbox called CONDSTORE").isEmpty();
        assertThat(used("a SELECT \"INBOX (CONDSTORE)\"")).isEmpty();
        assertThat(used("a STATUS HIGHESTMODSEQ (MESSAGES)")).isEmpty();
        assertThat(used("a FETCH 1 BODY.PEEK[HEADER.FIELDS (MODSEQ VANISHED)]")).isEmpty();
        assertThat(used("a SEARCH SUBJECT MODSEQ")).isEmpty();
        assertThat(used("a SEARCH HEADER MODSEQ MODSEQ")).isEmpty();
        assertThat(used("a LIST \"\" RETURN")).as("a pattern called RETURN").isEmpty();
        assertThat(used("a LIST \"\" \"%\"")).isEmpty();
        assertThat(used("a FETCH 1:* (FLAGS BODY[])")).isEmpty();
        Command literal = new Command("a", "SEARCH", "a SEARCH TEXT {6}\r\nMODSEQ\r\n".getBytes(StandardCharsets.UTF_8), 9, true, true);
        assertThat(ExtensionSyntax.used(literal)).isEmpty();
        Command literalThenKey = new Command("a", "SEARCH",
                "a SEARCH {6}\r\nMODSEQ MODSEQ 5\r\n".getBytes(StandardCharsets.UTF_8), 9, true, true);
        assertThat(ExtensionSyntax.used(literalThenKey)).containsExactly("CONDSTORE");
    }

    @Test
    void aRemovedExtensionsSyntaxGetsBadAndTheRestProceeds() {
        List<Glob> remove = List.of(new Glob("CONDSTORE"), new Glob("LIST-*"));
        List<String> removedSyntax = List.of("CONDSTORE", "LIST-EXTENDED", "LIST-STATUS");
        assertThat(decide("a FETCH 1:* (FLAGS) (CHANGEDSINCE 5)", removedSyntax, remove).text())
                .isEqualTo("FETCH uses CONDSTORE syntax, and the CONDSTORE extension is disabled here.");
        assertThat(decide("a FETCH 1:* (FLAGS) (CHANGEDSINCE 5)", removedSyntax, remove).status())
                .isEqualTo(io.postern.policies.Status.BAD);
        assertThat(decide("a LIST (SUBSCRIBED) \"\" *", removedSyntax, remove).kind()).isEqualTo(Decision.Kind.REJECT);
        assertThat(decide("a UID SEARCH RETURN (MIN) ALL", removedSyntax, remove)).isEqualTo(Decision.PROCEED);
        assertThat(decide("a FETCH 1:* (FLAGS)", removedSyntax, remove)).isEqualTo(Decision.PROCEED);
    }

    private static Decision decide(String line, List<String> removedSyntax, List<Glob> remove) {
        Command c = Command.parse(line);
        CommandVerdict v = new CommandVerdict(c);
        CapabilitiesPolicyFactory.enforce(c, v, Map.of(), removedSyntax, remove);
        return v.decision();
    }

    private static List<String> used(String line) {
        return List.copyOf(ExtensionSyntax.used(Command.parse(line)));
    }
}
