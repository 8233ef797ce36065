// Starts DynamoDB Local listening on 127.0.0.1 only, and stops it when its stdin closes.
//
// DynamoDB Local has no bind option: its DynamoDBProxyServer builds a Jetty `new Server(port)`,
// whose connector listens on every interface, and no system property changes that. So this
// launcher builds the server exactly as DynamoDB Local's own main does (same command-line flags),
// sets the host of each Jetty connector to 127.0.0.1 before starting it, and refuses to start if
// it cannot. lib/local/services.ts runs it in Java's source-file mode (JEP 330, no build step):
//   java -cp DynamoDBLocal.jar DynamoDbLocalLoopback.java -port N [-dbPath DIR | -inMemory] ...
//
// The stdin watchdog replaces a shell wrapper: the parent holds our stdin pipe, so when it stops us
// (closes the pipe) or dies by any signal, even SIGKILL, read() sees end of file and we exit.
import java.lang.reflect.Field;
import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import software.amazon.dynamodb.services.local.main.ServerRunner;
import software.amazon.dynamodb.services.local.server.DynamoDBProxyServer;

public class DynamoDbLocalLoopback {
  static final String LOOPBACK = "127.0.0.1";

  public static void main(String[] args) throws Exception {
    Thread watchdog = new Thread(() -> {
      try {
        while (System.in.read() != -1) {
          // nothing is ever written to us; wait for end of file
        }
      } catch (Exception e) {
        // a broken pipe means the parent is gone as well
      }
      System.exit(0);
    }, "afg-stdin-watchdog");
    watchdog.setDaemon(true);
    watchdog.start();

    DynamoDBProxyServer proxy = ServerRunner.createServerFromCommandLineArgs(args);
    Field field = DynamoDBProxyServer.class.getDeclaredField("server");
    field.setAccessible(true);
    Server server = (Server) field.get(proxy);
    Connector[] connectors = server.getConnectors();
    if (connectors.length == 0) throw new IllegalStateException("DynamoDB Local built no connector to bind");
    for (Connector connector : connectors) {
      if (!(connector instanceof ServerConnector)) {
        throw new IllegalStateException("cannot bind " + connector + " to " + LOOPBACK + ": not a ServerConnector");
      }
      ((ServerConnector) connector).setHost(LOOPBACK);
    }
    proxy.start();
    System.out.println("afg-dynamodb-listening " + LOOPBACK);
  }
}
