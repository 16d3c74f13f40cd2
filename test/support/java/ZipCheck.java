import java.io.BufferedInputStream;
import java.io.FileDescriptor;
import java.io.FileInputStream;
import java.io.FileOutputStream;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.zip.ZipEntry;
import java.util.zip.ZipInputStream;
import org.apache.commons.compress.archivers.zip.ZipArchiveEntry;
import org.apache.commons.compress.archivers.zip.ZipArchiveInputStream;

/**
 * Reads a ZIP the way streaming importers do, front to back without its
 * central directory: Java's own ZipInputStream (most JVM and Android
 * importers) and Apache Commons Compress's ZipArchiveInputStream with its
 * defaults. Prints, per reader and entry, "reader<TAB>name<TAB>SHA-256";
 * any refusal is an exception and a non-zero exit.
 */
public class ZipCheck {
  public static void main(String[] args) throws Exception {
    // UTF-8 whatever the locale (a bare environment has none): the names are compared with the archive's.
    PrintStream out = new PrintStream(new FileOutputStream(FileDescriptor.out), true, StandardCharsets.UTF_8);
    try (ZipInputStream zip = new ZipInputStream(new BufferedInputStream(new FileInputStream(args[0])))) {
      for (ZipEntry e; (e = zip.getNextEntry()) != null; ) out.println("jdk\t" + e.getName() + "\t" + sha256(zip));
    }
    try (ZipArchiveInputStream zip = new ZipArchiveInputStream(new BufferedInputStream(new FileInputStream(args[0])))) {
      for (ZipArchiveEntry e; (e = zip.getNextZipEntry()) != null; ) out.println("commons\t" + e.getName() + "\t" + sha256(zip));
    }
  }

  private static String sha256(InputStream in) throws Exception {
    MessageDigest digest = MessageDigest.getInstance("SHA-256");
    byte[] buffer = new byte[1 << 16];
    for (int n; (n = in.read(buffer)) > 0; ) digest.update(buffer, 0, n);
    return HexFormat.of().formatHex(digest.digest());
  }
}
