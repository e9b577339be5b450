package io.postern.policies;

import io.postern.imap.parse.ArgumentReader;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * A client command as a policy sees it: its tag, its name and the bytes of its arguments as they
 * came on the wire (literal data inline after each {@code {n}} line ending), read with
 * {@link #arguments()}.
 *
 * <p>Postern gathers a command's arguments up to a bound (8 KiB) before asking the policies, so
 * mailbox names sent as literals are seen like quoted ones. A command longer than that (an
 * APPEND's message) is seen up to the start of the literal that does not fit;
 * {@link #complete()} tells which. Message data is never here: content inspection is a
 * separate event.
 *
 * <p>Immutable and thread-safe.
 */
public final class Command {

    private final String tag;
    private final String name;
    private final byte[] wire;
    private final int argumentsIndex;
    private final boolean complete;
    private final boolean literals;

    /**
     * @param wire the command from its tag on, as far as gathered
     * @param argumentsIndex the index in {@code wire} of the first argument byte (or of the line end)
     * @param complete whether {@code wire} is the whole command
     * @param literals whether the command carries literals (gathered or not)
     */
    public Command(String tag, String name, byte[] wire, int argumentsIndex, boolean complete, boolean literals) {
        this.tag = tag;
        this.name = name;
        this.wire = wire;
        this.argumentsIndex = argumentsIndex;
        this.complete = complete;
        this.literals = literals;
    }

    /** A single-line command, for tests and benchmarks: {@code "a1 SELECT INBOX"}. */
    public static Command parse(String line) {
        int sp = line.indexOf(' ');
        String tag = line.substring(0, sp);
        int nameEnd = line.indexOf(' ', sp + 1);
        String name = (nameEnd < 0 ? line.substring(sp + 1) : line.substring(sp + 1, nameEnd)).toUpperCase(java.util.Locale.ROOT);
        if (name.equals("UID") && nameEnd > 0) {
            int sub = line.indexOf(' ', nameEnd + 1);
            name = "UID " + (sub < 0 ? line.substring(nameEnd + 1) : line.substring(nameEnd + 1, sub)).toUpperCase(java.util.Locale.ROOT);
            nameEnd = sub;
        }
        byte[] wire = (line + "\r\n").getBytes(StandardCharsets.UTF_8);
        int args = nameEnd < 0 ? wire.length - 2 : line.substring(0, nameEnd + 1).getBytes(StandardCharsets.UTF_8).length;
        return new Command(tag, name, wire, args, true, false);
    }

    public String tag() {
        return tag;
    }

    /** Upper case; {@code UID FETCH}, {@code UID STORE} ... for UID commands. */
    public String name() {
        return name;
    }

    /** A reader positioned at the first argument. Each call gives a new reader. */
    public ArgumentReader arguments() {
        return new ArgumentReader(wire, argumentsIndex);
    }

    /** Where the arguments start in {@link #wire()}. */
    public int argumentsIndex() {
        return argumentsIndex;
    }

    /** The argument bytes as text (UTF-8), literal data inline; for single-line commands, the arguments as typed. */
    public String argumentText() {
        int end = wire.length;
        while (end > argumentsIndex && (wire[end - 1] == '\n' || wire[end - 1] == '\r')) {
            end--;
        }
        return new String(wire, argumentsIndex, end - argumentsIndex, StandardCharsets.UTF_8);
    }

    /** Whether every byte of the command is in {@link #arguments()}. */
    public boolean complete() {
        return complete;
    }

    /** Whether the command carries literals. */
    public boolean hasLiterals() {
        return literals;
    }

    /** The number of bytes gathered. */
    public int size() {
        return wire.length;
    }

    /** The same command under another name. */
    public Command renamed(String newName) {
        byte[] head = (tag + " " + newName).getBytes(StandardCharsets.US_ASCII);
        int oldHead = argumentsIndex > 0 && wire[argumentsIndex - 1] == ' ' ? argumentsIndex - 1 : argumentsIndex;
        byte[] w = new byte[head.length + wire.length - oldHead];
        System.arraycopy(head, 0, w, 0, head.length);
        System.arraycopy(wire, oldHead, w, head.length, wire.length - oldHead);
        int args = argumentsIndex - oldHead + head.length;
        return new Command(tag, newName, w, args, complete, literals);
    }

    /** The same single-line command with other arguments. */
    public Command withArguments(String arguments) {
        byte[] head = (tag + " " + name + (arguments.isEmpty() ? "" : " ")).getBytes(StandardCharsets.US_ASCII);
        byte[] args = (arguments + "\r\n").getBytes(StandardCharsets.UTF_8);
        byte[] w = Arrays.copyOf(head, head.length + args.length);
        System.arraycopy(args, 0, w, head.length, args.length);
        return new Command(tag, name, w, arguments.isEmpty() ? head.length : head.length, true, false);
    }

    /** For the engine: a copy of the gathered bytes. */
    public byte[] wire() {
        return wire.clone();
    }

    /** Name and size only: arguments may hold anything the client typed. */
    @Override
    public String toString() {
        return "Command(" + tag + " " + name + ", " + wire.length + " bytes" + (complete ? "" : ", partial") + ")";
    }
}
