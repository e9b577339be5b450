package io.postern.policies.acl;

import static org.assertj.core.api.Assertions.assertThat;

import io.postern.imap.parse.ImapParseException;
import io.postern.policies.Command;
import io.postern.policies.Response;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

class AclPolicyTest {

    private final MailboxRules rules = new MailboxRules(List.of(
            MailboxRules.rule("Legal Hold", MailboxRules.Action.HIDE),
            MailboxRules.rule("Legal Hold/*", MailboxRules.Action.HIDE),
            MailboxRules.rule("Ärger", MailboxRules.Action.HIDE),
            MailboxRules.rule("INBOX/Board%", MailboxRules.Action.DENY),
            MailboxRules.rule("Legal*", MailboxRules.Action.ALLOW)));

    @Test
    void theFirstMatchingRuleDecidesAndEverySpellingOfANameIsChecked() {
        assertThat(rules.check("Legal Hold")).isEqualTo(MailboxRules.Action.HIDE);
        assertThat(rules.check("Legal Hold/")).isEqualTo(MailboxRules.Action.HIDE);
        assertThat(rules.check("Legal Hold/2025/Q1")).isEqualTo(MailboxRules.Action.HIDE);
        assertThat(rules.check("Legal Other")).isEqualTo(MailboxRules.Action.ALLOW);
        assertThat(rules.check("&AMQ-rger")).as("modified UTF-7").isEqualTo(MailboxRules.Action.HIDE);
        assertThat(rules.check("Ärger")).as("UTF-8").isEqualTo(MailboxRules.Action.HIDE);
        assertThat(rules.check("&AMQ-rg&-er")).isEqualTo(MailboxRules.Action.ALLOW);
        assertThat(rules.check("&AMQ")).as("not modified UTF-7").isEqualTo(MailboxRules.Action.INVALID);
        assertThat(rules.check("inbox/Board")).as("INBOX in any case").isEqualTo(MailboxRules.Action.DENY);
        assertThat(rules.check("INBOX/Boards/x")).as("% stops at /").isEqualTo(MailboxRules.Action.ALLOW);
        assertThat(new MailboxRules(List.of()).check("&AMQ")).isEqualTo(MailboxRules.Action.ALLOW);
    }

    @Test
    void mailboxArgumentsOfEachCommand() throws Exception {
        assertThat(names("a SELECT \"Legal Hold\" (CONDSTORE)")).containsExactly("Legal Hold:EXISTING");
        assertThat(names("a RENAME Old \"New One\"")).containsExactly("Old:EXISTING", "New One:NEW");
        assertThat(names("a UID MOVE 1:*,4 Archive")).containsExactly("Archive:TARGET");
        assertThat(names("a APPEND Sent (\\Seen) {12}")).containsExactly("Sent:TARGET");
        assertThat(names("a GETMETADATA (DEPTH 1) INBOX /private/comment")).containsExactly("INBOX:EXISTING");
        assertThat(names("a GETMETADATA \"\" /shared/comment")).isEmpty();
        assertThat(names("a FETCH 1 BODY[]")).isEmpty();
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> names("a SELECT Legal%Hold"))
                .isInstanceOf(ImapParseException.class);
    }

    private static List<String> names(String line) throws ImapParseException {
        return MailboxArguments.of(Command.parse(line)).stream().map(n -> n.name() + ":" + n.use()).toList();
    }

    @Test
    void listAndStatusResponsesOfAHiddenMailboxAreRecognised() {
        assertThat(AclPolicyFactory.hiddenInResponse(Response.parse("* LIST (\\HasNoChildren) \"/\" \"Legal Hold\""), rules)).isTrue();
        assertThat(AclPolicyFactory.hiddenInResponse(Response.parse("* LIST () \"/\" Legal"), rules)).isFalse();
        assertThat(AclPolicyFactory.hiddenInResponse(Response.parse("* LSUB () NIL &AMQ-rger"), rules)).isTrue();
        assertThat(AclPolicyFactory.hiddenInResponse(Response.parse("* STATUS \"Legal Hold/x\" (MESSAGES 3)"), rules)).isTrue();
        assertThat(AclPolicyFactory.hiddenInResponse(Response.parse("* STATUS INBOX (MESSAGES 3)"), rules)).isFalse();
        byte[] literal = "* LIST () \"/\" {10}\r\nLegal Hold\r\n".getBytes(java.nio.charset.StandardCharsets.UTF_8);
        assertThat(AclPolicyFactory.hiddenInResponse(new Response("LIST", -1, literal, 7, true), rules)).isTrue();
        assertThat(AclPolicyFactory.hiddenInResponse(Response.parse("* LIST (\\Noselect \"/\" x"), rules))
                .as("what cannot be read is not shown").isTrue();
    }

    @Test
    void aUserOverTheRateIsDelayedLongerEachTimeThenRefused() {
        RateLimiter limiter = new RateLimiter(5, 0, Duration.ofSeconds(1));
        io.postern.policies.SessionInfo s = new io.postern.policies.SessionInfo("1", "Rate", java.util.Set.of(), "imap", null, false);
        limiter.sessionStarted(s);
        for (int i = 0; i < 5; i++) {
            assertThat(limiter.command("rate")).isInstanceOf(RateLimiter.Now.class);
        }
        long previous = 0;
        int delayed = 0;
        RateLimiter.Admission a;
        while ((a = limiter.command("RATE")) instanceof RateLimiter.After after) {
            assertThat(after.delay().toNanos()).isGreaterThan(previous);
            previous = after.delay().toNanos();
            delayed++;
            assertThat(delayed).isLessThan(20);
        }
        assertThat(a).isInstanceOf(RateLimiter.Refused.class);
        assertThat(delayed).isPositive();
        limiter.sessionEnded(s);
        assertThat(limiter.command("rate")).as("no session, no bucket").isInstanceOf(RateLimiter.Now.class);
    }

    @Test
    void loginHoursOverMidnight() {
        var hours = new AclPolicyFactory.LoginHours(java.time.LocalTime.of(22, 0), java.time.LocalTime.of(6, 0),
                java.util.EnumSet.allOf(java.time.DayOfWeek.class), java.time.ZoneOffset.UTC);
        assertThat(hours.allows(java.time.ZonedDateTime.parse("2026-11-22T23:30:00Z"))).isTrue();
        assertThat(hours.allows(java.time.ZonedDateTime.parse("2026-11-22T05:59:00Z"))).isTrue();
        assertThat(hours.allows(java.time.ZonedDateTime.parse("2026-11-22T12:00:00Z"))).isFalse();
    }

    @Test
    void theFactoryBuildsFromSettingsAndNamesTheKeyPathOfABadOne() throws Exception {
        var settings = new io.postern.policies.engine.MapSettings(java.util.Map.of("read_only", true,
                "mailboxes", List.of(java.util.Map.of("pattern", "Legal Hold", "action", "hide"))), "policies[0].acl");
        io.postern.policies.Policy p = new AclPolicyFactory().create("ro", settings);
        var chain = new io.postern.policies.engine.PolicyChain(List.of(p));
        var s = new io.postern.policies.SessionInfo("1", "carol", java.util.Set.of(), "imap", null, false);
        List<io.postern.policies.engine.Outcome> outcomes = new java.util.ArrayList<>();
        for (String line : List.of("a SELECT INBOX", "b UID STORE 1 +FLAGS (\\Seen)", "c STATUS \"Legal Hold\" (MESSAGES)",
                "d FETCH 1 BODY[]", "e APPEND Archive CATENATE (URL \"/Legal%20Hold/;UID=1\")")) {
            chain.command(s, Command.parse(line), null, outcomes::add);
        }
        assertThat(outcomes).extracting(o -> o.decision().toString()).containsExactly(
                "proceed", "NO [NOPERM] Read-only access: UID STORE is not permitted.",
                "NO [NONEXISTENT] Mailbox doesn't exist.", "proceed", "NO [NOPERM] Read-only access: APPEND is not permitted.");
        assertThat(outcomes.get(0).command().name()).isEqualTo("EXAMINE");

        var bad = new io.postern.policies.engine.MapSettings(java.util.Map.of("rate_limit",
                java.util.Map.of("commands_per_second", -1)), "policies[2].acl");
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> new AclPolicyFactory().create("x", bad))
                .hasMessage("policies[2].acl.rate_limit.commands_per_second: -1 is out of range (expected: 0 to 1000000000)");
    }
}
