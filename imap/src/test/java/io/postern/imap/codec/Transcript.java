package io.postern.imap.codec;

import static java.nio.charset.StandardCharsets.ISO_8859_1;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * One recorded connection of the corpus in {@code src/test/resources/transcripts} (its README says
 * how it was made): every byte each way, and the reads of the recording relay, in order.
 */
final class Transcript {

    /** A block header of the {@code .interleave}: one read of the relay. */
    private static final Pattern READ = Pattern.compile("^(C>S|S>C) t=([0-9.]+) @(\\d+) \\+(\\d+)$");

    /** One read of the relay: {@code length} bytes at {@code offset} of one direction's file. */
    record Read(Direction direction, int offset, int length) {}

    private final String name;
    private final byte[] commands;
    private final byte[] responses;
    private final List<Read> reads;
    /** For each read, how many response bytes the relay had passed on before it. */
    private final long[] responseBytesBefore;

    private Transcript(String name, byte[] commands, byte[] responses, List<Read> reads) {
        this.name = name;
        this.commands = commands;
        this.responses = responses;
        this.reads = reads;
        this.responseBytesBefore = new long[reads.size() + 1];
        for (int i = 0; i < reads.size(); i++) {
            Read read = reads.get(i);
            responseBytesBefore[i + 1] = responseBytesBefore[i]
                    + (read.direction() == Direction.RESPONSE ? read.length() : 0);
        }
    }

    static Path folder() {
        URL url = Transcript.class.getResource("/transcripts/README.md");
        if (url == null) {
            throw new IllegalStateException("transcripts/README.md is not on the test class path");
        }
        try {
            return Path.of(url.toURI()).getParent();
        } catch (URISyntaxException e) {
            throw new IllegalStateException(url.toString(), e);
        }
    }

    /** The names of the captures in the folder, sorted. */
    static List<String> names() {
        try (Stream<Path> files = Files.list(folder())) {
            return files.map(path -> path.getFileName().toString())
                    .filter(file -> file.endsWith(".c2s"))
                    .map(file -> file.substring(0, file.length() - ".c2s".length()))
                    .sorted()
                    .toList();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static Transcript load(String name) {
        Path folder = folder();
        try {
            List<Read> reads = new ArrayList<>();
            for (String line : Files.readAllLines(folder.resolve(name + ".interleave"), ISO_8859_1)) {
                Matcher m = READ.matcher(line);
                if (m.matches()) {
                    Direction direction = m.group(1).equals("C>S") ? Direction.COMMAND : Direction.RESPONSE;
                    reads.add(new Read(direction, Integer.parseInt(m.group(3)), Integer.parseInt(m.group(4))));
                }
            }
            return new Transcript(name,
                    Files.readAllBytes(folder.resolve(name + ".c2s")),
                    Files.readAllBytes(folder.resolve(name + ".s2c")),
                    List.copyOf(reads));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    String name() {
        return name;
    }

    /** The file of one direction: {@code .c2s} for commands, {@code .s2c} for responses. */
    byte[] bytes(Direction direction) {
        return direction == Direction.COMMAND ? commands : responses;
    }

    List<Read> reads(Direction direction) {
        return reads.stream().filter(read -> read.direction() == direction).toList();
    }

    /**
     * Whether the backend refused the synchronizing literal announced by a command line that ends
     * at {@code lineEnd} in the {@code .c2s}: between the client's read holding that line and its
     * next read, the backend sent a tagged reply for {@code tag} before any {@code +}. The client
     * then sent no literal data. {@code responseLines} are the first lines of the {@code .s2c}.
     */
    boolean literalRefused(String tag, int lineEnd, List<ResponseLine> responseLines) {
        int lineRead = readHolding(lineEnd - 1);
        int nextRead = lineEnd < commands.length ? readHolding(lineEnd) : reads.size();
        if (nextRead == lineRead) {
            return false; // the data came in the same read: the client did not wait
        }
        long from = responseBytesBefore[lineRead];
        long to = responseBytesBefore[nextRead];
        for (ResponseLine line : responseLines) {
            if (line.offset() >= from && line.offset() < to) {
                if (line.continuation()) {
                    return false;
                }
                if (tag != null && tag.equals(line.tag())) {
                    return true;
                }
            }
        }
        return false;
    }

    /** The index among all reads of the client read that holds byte {@code offset} of the {@code .c2s}. */
    private int readHolding(int offset) {
        for (int i = 0; i < reads.size(); i++) {
            Read read = reads.get(i);
            if (read.direction() == Direction.COMMAND && offset >= read.offset()
                    && offset < read.offset() + read.length()) {
                return i;
            }
        }
        throw new IllegalArgumentException(name + ": no read holds .c2s offset " + offset);
    }

    /** The first line of a response: where it starts in the {@code .s2c}, and what it is. */
    record ResponseLine(long offset, boolean continuation, String tag) {}

    @Override
    public String toString() {
        return name;
    }
}
