/*
 * A small FIX 4.4 exchange on QuickFIX/J: the independent counterparty of the OMS's FIX adapter in tests.
 *
 * It accepts any initiator (a dynamic acceptor session per SenderCompID, file store: sequence numbers
 * survive a restart), keeps one book of orders per initiator, and answers NewOrderSingle (NEW or
 * REJECTED; market orders fill at once at the configured price), OrderCancelReplaceRequest (REPLACED or
 * OrderCancelReject), OrderCancelRequest (CANCELED or OrderCancelReject), OrderStatusRequest (ExecType I)
 * and OrderMassStatusRequest (one ExecType I per working order). Limit orders rest until a control fills
 * them. The working orders are written to book.tsv in the data directory after every change and read back at
 * start (closed orders are kept in memory only: after a restart they are unknown).
 * ExecIDs are "<start epoch ms>-<counter>": unique across restarts.
 *
 * Test controls: a line protocol on the control port, one command per line, one reply line each
 * ("OK ..." or "ERR ..."): ping; fill CLORDID QTY PX; fill-all PX [COMPID]; cancel-unsolicited CLORDID;
 * drop [COMPID]; refuse COMPID on|off; withhold N COMPID; repeat N COMPID; expect COMPID SEQ (the next
 * incoming sequence number: a gap makes the acceptor ask the initiator to resend); count [COMPID]; book [COMPID];
 * price SYMBOL PX; stop.
 *
 * Usage: java -cp JARS:CLASSES FixAcceptor DATA_DIR   (reads DATA_DIR/acceptor.cfg; stops when stdin closes)
 */

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.math.BigDecimal;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardCopyOption;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Deque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicLong;

import quickfix.Application;
import quickfix.ConfigError;
import quickfix.DefaultMessageFactory;
import quickfix.FieldNotFound;
import quickfix.FileLogFactory;
import quickfix.FileStoreFactory;
import quickfix.LogFactory;
import quickfix.Message;
import quickfix.MessageFactory;
import quickfix.MessageStore;
import quickfix.MessageStoreFactory;
import quickfix.RejectLogon;
import quickfix.Session;
import quickfix.SessionID;
import quickfix.SessionNotFound;
import quickfix.SessionSettings;
import quickfix.SocketAcceptor;
import quickfix.mina.acceptor.DynamicAcceptorSessionProvider;

public final class FixAcceptor implements Application {

    // ------------------------------------------------------------------ tags
    static final int ACCOUNT = 1, AVG_PX = 6, BEGIN_STRING = 8, CL_ORD_ID = 11, CUM_QTY = 14, EXEC_ID = 17,
            LAST_PX = 31, LAST_QTY = 32, MSG_SEQ_NUM = 34, MSG_TYPE = 35, ORDER_ID = 37, ORDER_QTY = 38,
            ORD_STATUS = 39, ORD_TYPE = 40, ORIG_CL_ORD_ID = 41, POSS_DUP = 43, PRICE = 44, SENDER = 49,
            SENDING_TIME = 52, SIDE = 54, SYMBOL = 55, TARGET = 56, TEXT = 58, TIF = 59, TRANSACT_TIME = 60,
            POSS_RESEND = 97, CXL_REJ_REASON = 102, ORD_REJ_REASON = 103, EXEC_TYPE = 150, LEAVES_QTY = 151,
            CXL_REJ_RESPONSE_TO = 434, MASS_STATUS_REQ_ID = 584, MASS_STATUS_REQ_TYPE = 585,
            ORD_STATUS_REQ_ID = 790, TOT_NUM_REPORTS = 911, LAST_RPT_REQUESTED = 912;

    /** One order in the book. */
    static final class Order {
        String compId, orderId, clOrdId, origClOrdId, account, symbol, side, ordType, tif, status;
        BigDecimal qty, price, cumQty = BigDecimal.ZERO, notional = BigDecimal.ZERO;
        final List<String> clOrdIds = new ArrayList<>();

        BigDecimal leaves() {
            return working() ? qty.subtract(cumQty).max(BigDecimal.ZERO) : BigDecimal.ZERO;
        }

        BigDecimal avgPx() {
            return cumQty.signum() == 0 ? BigDecimal.ZERO : notional.divide(cumQty, 8, java.math.RoundingMode.HALF_EVEN);
        }

        boolean working() {
            return status.equals("0") || status.equals("1");
        }
    }

    private final Path dataDir;
    private final SessionSettings settings;
    private final String senderCompId;
    private final BigDecimal marketPrice;
    private final Set<String> symbols = new HashSet<>();
    private final Set<String> rejectSymbols = new HashSet<>();
    private final Map<String, BigDecimal> prices = new ConcurrentHashMap<>();
    private final long epoch = System.currentTimeMillis();
    private final AtomicLong execSeq = new AtomicLong();
    private long orderSeq;
    private final Map<String, Order> orders = new LinkedHashMap<>(); // orderId -> order
    private final Map<String, Order> byClOrdId = new HashMap<>(); // compId + "\u0001" + any ClOrdID of the chain
    private final Set<String> refused = ConcurrentHashMap.newKeySet();
    private final Map<String, Integer> withhold = new ConcurrentHashMap<>();
    private final Map<String, Deque<Message>> sentReports = new ConcurrentHashMap<>();
    private final Map<String, long[]> counts = new ConcurrentHashMap<>(); // compId -> {second, inSecond, max, total}
    private final long[] allCounts = new long[4];
    private final CountDownLatch stopped = new CountDownLatch(1);
    private SocketAcceptor acceptor;

    FixAcceptor(Path dataDir, SessionSettings settings) throws ConfigError {
        this.dataDir = dataDir;
        this.settings = settings;
        this.senderCompId = setting("ExchangeCompID", "EXCH");
        this.marketPrice = new BigDecimal(setting("MarketPrice", "100"));
        for (String s : setting("Symbols", "").split(",")) if (!s.isBlank()) symbols.add(s.trim());
        for (String s : setting("RejectSymbols", "").split(",")) if (!s.isBlank()) rejectSymbols.add(s.trim());
    }

    private String setting(String key, String fallback) {
        try {
            return settings.isSetting(key) ? settings.getString(key) : fallback;
        } catch (ConfigError e) {
            return fallback;
        }
    }

    public static void main(String[] args) throws Exception {
        Path dataDir = Paths.get(args[0]).toAbsolutePath();
        SessionSettings settings = new SessionSettings(dataDir.resolve("acceptor.cfg").toString());
        FixAcceptor app = new FixAcceptor(dataDir, settings);
        app.run(Integer.parseInt(app.setting("ControlPort", "0")));
    }

    void run(int controlPort) throws Exception {
        loadBook();
        MessageStoreFactory store = new FileStoreFactory(settings);
        LogFactory logs = new FileLogFactory(settings);
        MessageFactory messages = new DefaultMessageFactory();
        acceptor = new SocketAcceptor(this, store, settings, logs, messages);
        SessionID template = null;
        for (Iterator<SessionID> it = settings.sectionIterator(); it.hasNext(); ) {
            SessionID id = it.next();
            if (settings.isSetting(id, "AcceptorTemplate") && settings.getBool(id, "AcceptorTemplate")) template = id;
        }
        if (template == null) throw new ConfigError("acceptor.cfg: no session with AcceptorTemplate=Y");
        DynamicAcceptorSessionProvider provider =
                new DynamicAcceptorSessionProvider(settings, template, this, store, logs, messages);
        InetSocketAddress address = new InetSocketAddress(
                settings.getString(template, "SocketAcceptAddress"), (int) settings.getLong(template, "SocketAcceptPort"));
        acceptor.setSessionProvider(address, provider);
        acceptor.start();
        synchronized (this) { // sessions of the book's initiators exist before they log on again
            for (Order o : orders.values()) provider.getSession(sessionOf(o.compId), acceptor);
        }
        ServerSocket control = new ServerSocket(controlPort, 50, InetAddress.getLoopbackAddress());
        Thread server = new Thread(() -> serve(control), "control");
        server.setDaemon(true);
        server.start();
        System.out.println("READY fix=" + address.getPort() + " control=" + control.getLocalPort());
        System.out.flush();
        Runtime.getRuntime().addShutdownHook(new Thread(stopped::countDown));
        Thread parent = new Thread(() -> { // stdin closes when the process that started us dies: stop with it
            try {
                while (System.in.read() >= 0) { }
            } catch (IOException e) {
                // closed
            }
            stopped.countDown();
        }, "parent-watch");
        parent.setDaemon(true);
        parent.start();
        stopped.await();
        control.close();
        acceptor.stop(true);
    }

    SessionID sessionOf(String compId) {
        return new SessionID("FIX.4.4", senderCompId, compId);
    }

    // ------------------------------------------------------------------ Application

    @Override public void onCreate(SessionID sessionId) { }
    @Override public void onLogon(SessionID sessionId) { }
    @Override public void onLogout(SessionID sessionId) { }
    @Override public void toAdmin(Message message, SessionID sessionId) { }
    @Override public void toApp(Message message, SessionID sessionId) { }

    @Override
    public void fromAdmin(Message message, SessionID sessionId) throws RejectLogon, FieldNotFound {
        if (message.getHeader().getString(MSG_TYPE).equals("A") && refused.contains(sessionId.getTargetCompID())) {
            throw new RejectLogon("logons of " + sessionId.getTargetCompID() + " are refused for now");
        }
    }

    @Override
    public void fromApp(Message message, SessionID sessionId) throws FieldNotFound {
        String compId = sessionId.getTargetCompID();
        count(compId);
        String type = message.getHeader().getString(MSG_TYPE);
        boolean possDup = message.getHeader().isSetField(POSS_DUP) && message.getHeader().getBoolean(POSS_DUP);
        List<Message> out;
        synchronized (this) {
            if (possDup && message.isSetField(CL_ORD_ID) && byClOrdId.containsKey(key(compId, message.getString(CL_ORD_ID)))
                    && (type.equals("D") || type.equals("G") || type.equals("F"))) {
                return; // a resend of a request already handled: ignored, as a venue does
            }
            switch (type) {
                case "D": out = newOrder(compId, message); break;
                case "G": out = replace(compId, message); break;
                case "F": out = cancel(compId, message); break;
                case "H": out = status(compId, message); break;
                case "AF": out = massStatus(compId, message); break;
                default: out = List.of(); break;
            }
            if (!out.isEmpty()) saveBook();
        }
        for (Message m : out) send(compId, m);
    }

    // ------------------------------------------------------------------ order handling

    private List<Message> newOrder(String compId, Message m) throws FieldNotFound {
        Order o = new Order();
        o.compId = compId;
        o.clOrdId = m.getString(CL_ORD_ID);
        o.account = m.isSetField(ACCOUNT) ? m.getString(ACCOUNT) : null;
        o.symbol = m.getString(SYMBOL);
        o.side = m.getString(SIDE);
        o.ordType = m.getString(ORD_TYPE);
        o.tif = m.isSetField(TIF) ? m.getString(TIF) : "0";
        o.qty = m.isSetField(ORDER_QTY) ? m.getDecimal(ORDER_QTY) : BigDecimal.ZERO;
        o.price = m.isSetField(PRICE) ? m.getDecimal(PRICE) : null;
        String reject = null, reason = null;
        if (byClOrdId.containsKey(key(compId, o.clOrdId))) { reject = "6"; reason = "duplicate ClOrdID " + o.clOrdId; }
        else if (rejectSymbols.contains(o.symbol) || (!symbols.isEmpty() && !symbols.contains(o.symbol))) {
            reject = "1"; reason = "unknown symbol " + o.symbol;
        } else if (o.qty.signum() <= 0) { reject = "13"; reason = "quantity must be positive"; }
        else if (o.ordType.equals("2") && (o.price == null || o.price.signum() <= 0)) {
            reject = "99"; reason = "a limit order needs a positive price";
        } else if (!o.ordType.equals("1") && !o.ordType.equals("2")) { reject = "99"; reason = "unsupported OrdType " + o.ordType; }
        if (reject != null) {
            o.orderId = "NONE";
            o.status = "8";
            Message r = report(o, "8", BigDecimal.ZERO, BigDecimal.ZERO);
            r.setString(ORD_REJ_REASON, reject);
            r.setString(TEXT, reason);
            return List.of(r);
        }
        o.orderId = "V" + epoch + "-" + (++orderSeq);
        o.status = "0";
        o.clOrdIds.add(o.clOrdId);
        orders.put(o.orderId, o);
        byClOrdId.put(key(compId, o.clOrdId), o);
        List<Message> out = new ArrayList<>();
        out.add(report(o, "0", BigDecimal.ZERO, BigDecimal.ZERO));
        if (o.ordType.equals("1")) out.add(fill(o, o.qty, prices.getOrDefault(o.symbol, marketPrice)));
        return out;
    }

    private List<Message> replace(String compId, Message m) throws FieldNotFound {
        String orig = m.getString(ORIG_CL_ORD_ID), clOrdId = m.getString(CL_ORD_ID);
        Order o = byClOrdId.get(key(compId, orig));
        if (o == null) return List.of(cancelReject(compId, clOrdId, orig, "NONE", "8", "2", "1", "unknown order " + orig));
        if (!o.working()) return List.of(cancelReject(compId, clOrdId, orig, o.orderId, o.status, "2", "0", "order is closed"));
        if (m.isSetField(SIDE) && !m.getString(SIDE).equals(o.side)) {
            return List.of(cancelReject(compId, clOrdId, orig, o.orderId, o.status, "2", "99", "a replace cannot change the side"));
        }
        o.origClOrdId = o.clOrdId;
        o.clOrdId = clOrdId;
        o.clOrdIds.add(clOrdId);
        byClOrdId.put(key(compId, clOrdId), o);
        if (m.isSetField(ORDER_QTY)) o.qty = m.getDecimal(ORDER_QTY);
        if (m.isSetField(PRICE) && o.ordType.equals("2")) o.price = m.getDecimal(PRICE);
        if (o.qty.compareTo(o.cumQty) <= 0) o.status = "2";
        return List.of(report(o, "5", BigDecimal.ZERO, BigDecimal.ZERO));
    }

    private List<Message> cancel(String compId, Message m) throws FieldNotFound {
        String orig = m.getString(ORIG_CL_ORD_ID), clOrdId = m.getString(CL_ORD_ID);
        Order o = byClOrdId.get(key(compId, orig));
        if (o == null) return List.of(cancelReject(compId, clOrdId, orig, "NONE", "8", "1", "1", "unknown order " + orig));
        if (!o.working()) return List.of(cancelReject(compId, clOrdId, orig, o.orderId, o.status, "1", "0", "order is closed"));
        o.origClOrdId = o.clOrdId;
        o.clOrdId = clOrdId;
        o.clOrdIds.add(clOrdId);
        byClOrdId.put(key(compId, clOrdId), o);
        o.status = "4";
        return List.of(report(o, "4", BigDecimal.ZERO, BigDecimal.ZERO));
    }

    private List<Message> status(String compId, Message m) throws FieldNotFound {
        String clOrdId = m.getString(CL_ORD_ID);
        Order o = byClOrdId.get(key(compId, clOrdId));
        Message r;
        if (o == null) {
            Order unknown = new Order();
            unknown.compId = compId;
            unknown.orderId = "NONE";
            unknown.clOrdId = clOrdId;
            unknown.symbol = m.getString(SYMBOL);
            unknown.side = m.getString(SIDE);
            unknown.qty = BigDecimal.ZERO;
            unknown.status = "8";
            r = report(unknown, "I", BigDecimal.ZERO, BigDecimal.ZERO);
            r.setString(ORD_REJ_REASON, "5");
            r.setString(TEXT, "unknown order");
        } else {
            r = report(o, "I", BigDecimal.ZERO, BigDecimal.ZERO);
        }
        if (m.isSetField(ORD_STATUS_REQ_ID)) r.setString(ORD_STATUS_REQ_ID, m.getString(ORD_STATUS_REQ_ID));
        return List.of(r);
    }

    private List<Message> massStatus(String compId, Message m) throws FieldNotFound {
        String reqId = m.getString(MASS_STATUS_REQ_ID);
        List<Order> working = new ArrayList<>();
        for (Order o : orders.values()) if (o.compId.equals(compId) && o.working()) working.add(o);
        List<Message> out = new ArrayList<>();
        if (working.isEmpty()) { // nothing works: one report naming no order says so
            Order none = new Order();
            none.compId = compId;
            none.orderId = "NONE";
            none.clOrdId = "NONE";
            none.symbol = "NONE";
            none.side = "1";
            none.qty = BigDecimal.ZERO;
            none.status = "8";
            Message r = report(none, "I", BigDecimal.ZERO, BigDecimal.ZERO);
            r.setString(MASS_STATUS_REQ_ID, reqId);
            r.setInt(TOT_NUM_REPORTS, 0);
            r.setString(LAST_RPT_REQUESTED, "Y");
            return List.of(r);
        }
        for (int i = 0; i < working.size(); i++) {
            Message r = report(working.get(i), "I", BigDecimal.ZERO, BigDecimal.ZERO);
            r.setString(MASS_STATUS_REQ_ID, reqId);
            r.setInt(TOT_NUM_REPORTS, working.size());
            if (i == working.size() - 1) r.setString(LAST_RPT_REQUESTED, "Y");
            out.add(r);
        }
        return out;
    }

    private Message fill(Order o, BigDecimal qty, BigDecimal px) {
        BigDecimal take = qty.min(o.leaves());
        o.cumQty = o.cumQty.add(take);
        o.notional = o.notional.add(take.multiply(px));
        o.status = o.cumQty.compareTo(o.qty) >= 0 ? "2" : "1";
        return report(o, "F", take, px);
    }

    private Message report(Order o, String execType, BigDecimal lastQty, BigDecimal lastPx) {
        Message r = new Message();
        r.getHeader().setString(MSG_TYPE, "8");
        r.setString(ORDER_ID, o.orderId);
        r.setString(CL_ORD_ID, o.clOrdId);
        if (o.origClOrdId != null && (execType.equals("5") || execType.equals("4"))) r.setString(ORIG_CL_ORD_ID, o.origClOrdId);
        r.setString(EXEC_ID, epoch + "-" + execSeq.incrementAndGet());
        r.setString(EXEC_TYPE, execType);
        r.setString(ORD_STATUS, o.status);
        if (o.account != null) r.setString(ACCOUNT, o.account);
        r.setString(SYMBOL, o.symbol);
        r.setString(SIDE, o.side);
        if (o.ordType != null) r.setString(ORD_TYPE, o.ordType);
        if (o.tif != null) r.setString(TIF, o.tif);
        r.setDecimal(ORDER_QTY, o.qty);
        if (o.price != null) r.setDecimal(PRICE, o.price);
        if (execType.equals("F")) {
            r.setDecimal(LAST_QTY, lastQty);
            r.setDecimal(LAST_PX, lastPx);
        }
        r.setDecimal(LEAVES_QTY, o.leaves());
        r.setDecimal(CUM_QTY, o.cumQty);
        r.setDecimal(AVG_PX, o.avgPx());
        r.setUtcTimeStamp(TRANSACT_TIME, LocalDateTime.now(ZoneOffset.UTC), true);
        return r;
    }

    private Message cancelReject(String compId, String clOrdId, String orig, String orderId, String ordStatus,
                                 String responseTo, String reason, String text) {
        Message r = new Message();
        r.getHeader().setString(MSG_TYPE, "9");
        r.setString(ORDER_ID, orderId);
        r.setString(CL_ORD_ID, clOrdId);
        r.setString(ORIG_CL_ORD_ID, orig);
        r.setString(ORD_STATUS, ordStatus);
        r.setString(CXL_REJ_RESPONSE_TO, responseTo);
        r.setString(CXL_REJ_REASON, reason);
        r.setString(TEXT, text);
        return r;
    }

    private static String key(String compId, String clOrdId) {
        return compId + "\u0001" + clOrdId;
    }

    // ------------------------------------------------------------------ sending

    private void send(String compId, Message m) {
        SessionID id = sessionOf(compId);
        Session session = Session.lookupSession(id);
        if (session == null) return;
        try {
            Integer held = withhold.get(compId);
            if (held != null && held > 0) {
                withhold.put(compId, held - 1);
                store(session, id, m);
            } else {
                Session.sendToTarget(m, id);
            }
            if (m.getHeader().getString(MSG_TYPE).equals("8")) {
                Deque<Message> sent = sentReports.computeIfAbsent(compId, k -> new ArrayDeque<>());
                synchronized (sent) {
                    sent.addLast(m);
                    while (sent.size() > 100) sent.removeFirst();
                }
            }
        } catch (SessionNotFound | IOException | FieldNotFound e) {
            System.err.println("send to " + compId + " failed: " + e);
        }
    }

    /** Give `m` the session's next sequence number and keep it in the store without sending it. */
    private static void store(Session session, SessionID id, Message m) throws IOException {
        synchronized (session) {
            MessageStore store = session.getStore();
            int seq = store.getNextSenderMsgSeqNum();
            m.getHeader().setString(BEGIN_STRING, id.getBeginString());
            m.getHeader().setString(SENDER, id.getSenderCompID());
            m.getHeader().setString(TARGET, id.getTargetCompID());
            m.getHeader().setInt(MSG_SEQ_NUM, seq);
            m.getHeader().setUtcTimeStamp(SENDING_TIME, LocalDateTime.now(ZoneOffset.UTC), true);
            store.set(seq, m.toString());
            store.incrNextSenderMsgSeqNum();
        }
    }

    private void count(String compId) {
        long second = System.currentTimeMillis() / 1000;
        synchronized (allCounts) {
            bump(allCounts, second);
            bump(counts.computeIfAbsent(compId, k -> new long[4]), second);
        }
    }

    private static void bump(long[] c, long second) {
        if (c[0] != second) { c[0] = second; c[1] = 0; }
        c[1]++;
        c[2] = Math.max(c[2], c[1]);
        c[3]++;
    }

    // ------------------------------------------------------------------ book file

    private void saveBook() {
        StringBuilder b = new StringBuilder();
        b.append("seq\t").append(orderSeq).append('\n');
        for (Order o : orders.values()) {
            if (!o.working()) continue; // closed orders live in memory only
            b.append(String.join("\t", Arrays.asList(o.compId, o.orderId, o.clOrdId, nz(o.origClOrdId), nz(o.account),
                    o.symbol, o.side, o.ordType, o.tif, o.status, o.qty.toPlainString(),
                    o.price == null ? "" : o.price.toPlainString(), o.cumQty.toPlainString(),
                    o.notional.toPlainString(), String.join(",", o.clOrdIds)))).append('\n');
        }
        try {
            Path tmp = dataDir.resolve("book.tsv.tmp");
            Files.writeString(tmp, b.toString(), StandardCharsets.UTF_8);
            Files.move(tmp, dataDir.resolve("book.tsv"), StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            System.err.println("cannot write the book: " + e);
        }
    }

    private void loadBook() throws IOException {
        Path file = dataDir.resolve("book.tsv");
        if (!Files.exists(file)) return;
        for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
            String[] f = line.split("\t", -1);
            if (f[0].equals("seq")) { orderSeq = Long.parseLong(f[1]); continue; }
            Order o = new Order();
            o.compId = f[0]; o.orderId = f[1]; o.clOrdId = f[2]; o.origClOrdId = en(f[3]); o.account = en(f[4]);
            o.symbol = f[5]; o.side = f[6]; o.ordType = f[7]; o.tif = f[8]; o.status = f[9];
            o.qty = new BigDecimal(f[10]); o.price = f[11].isEmpty() ? null : new BigDecimal(f[11]);
            o.cumQty = new BigDecimal(f[12]); o.notional = new BigDecimal(f[13]);
            o.clOrdIds.addAll(Arrays.asList(f[14].split(",")));
            orders.put(o.orderId, o);
            for (String c : o.clOrdIds) byClOrdId.put(key(o.compId, c), o);
        }
    }

    private static String nz(String s) { return s == null ? "" : s; }
    private static String en(String s) { return s.isEmpty() ? null : s; }

    // ------------------------------------------------------------------ controls

    private void serve(ServerSocket control) {
        while (!control.isClosed()) {
            try {
                Socket client = control.accept();
                Thread t = new Thread(() -> talk(client), "control-client");
                t.setDaemon(true);
                t.start();
            } catch (IOException e) {
                return;
            }
        }
    }

    private void talk(Socket client) {
        try (client;
             BufferedReader in = new BufferedReader(new InputStreamReader(client.getInputStream(), StandardCharsets.UTF_8));
             PrintWriter out = new PrintWriter(client.getOutputStream(), true, StandardCharsets.UTF_8)) {
            String line;
            while ((line = in.readLine()) != null) {
                String reply;
                try {
                    reply = command(line.trim().split("\\s+"));
                } catch (Exception e) {
                    reply = "ERR " + e;
                }
                out.println(reply.replace('\n', ' '));
                if (line.trim().equals("stop")) stopped.countDown();
            }
        } catch (IOException e) {
            // the client went away
        }
    }

    private String command(String[] a) throws Exception {
        switch (a[0]) {
            case "ping": return "OK pong";
            case "stop": return "OK stopping";
            case "price": prices.put(a[1], new BigDecimal(a[2])); return "OK";
            case "fill": {
                List<Message> out = new ArrayList<>();
                Order o;
                synchronized (this) {
                    o = find(a[1]);
                    if (o == null) return "ERR unknown order " + a[1];
                    if (!o.working()) return "ERR order " + a[1] + " is not working";
                    out.add(fill(o, new BigDecimal(a[2]), new BigDecimal(a[3])));
                    saveBook();
                }
                for (Message m : out) send(o.compId, m);
                return "OK " + o.cumQty.toPlainString();
            }
            case "fill-all": {
                BigDecimal px = new BigDecimal(a[1]);
                List<Order> filled = new ArrayList<>();
                List<Message> out = new ArrayList<>();
                synchronized (this) {
                    for (Order o : orders.values()) {
                        if (o.working() && (a.length < 3 || o.compId.equals(a[2]))) {
                            out.add(fill(o, o.leaves(), px));
                            filled.add(o);
                        }
                    }
                    saveBook();
                }
                for (int i = 0; i < out.size(); i++) send(filled.get(i).compId, out.get(i));
                return "OK " + out.size();
            }
            case "cancel-unsolicited": {
                Message r;
                Order o;
                synchronized (this) {
                    o = find(a[1]);
                    if (o == null) return "ERR unknown order " + a[1];
                    if (!o.working()) return "ERR order " + a[1] + " is not working";
                    o.status = "4";
                    o.origClOrdId = null;
                    r = report(o, "4", BigDecimal.ZERO, BigDecimal.ZERO);
                    r.setString(TEXT, "canceled by the exchange");
                    saveBook();
                }
                send(o.compId, r);
                return "OK";
            }
            case "drop": {
                int n = 0;
                for (SessionID id : acceptor.getSessions()) {
                    if (a.length > 1 && !id.getTargetCompID().equals(a[1])) continue;
                    Session s = Session.lookupSession(id);
                    if (s != null && s.isLoggedOn()) { s.disconnect("dropped by a test control", false); n++; }
                }
                return "OK " + n;
            }
            case "expect": { // forget what the initiator sent since SEQ: the next message shows a gap
                Session s = Session.lookupSession(sessionOf(a[1]));
                if (s == null) return "ERR no session for " + a[1];
                s.setNextTargetMsgSeqNum(Integer.parseInt(a[2]));
                return "OK";
            }
            case "refuse": {
                if (a[2].equals("on")) refused.add(a[1]); else refused.remove(a[1]);
                return "OK";
            }
            case "withhold": {
                String compId = a.length > 2 ? a[2] : null;
                if (compId == null) return "ERR withhold N COMPID";
                withhold.put(compId, Integer.parseInt(a[1]));
                return "OK";
            }
            case "repeat": { // send the last N reports again as new messages with PossResend=Y
                String compId = a[2];
                int n = Integer.parseInt(a[1]);
                List<Message> again = new ArrayList<>();
                Deque<Message> sent = sentReports.getOrDefault(compId, new ArrayDeque<>());
                synchronized (sent) {
                    Iterator<Message> it = sent.descendingIterator();
                    while (it.hasNext() && again.size() < n) again.add(0, it.next());
                }
                for (Message m : again) {
                    Message copy = (Message) m.clone();
                    copy.getHeader().setBoolean(POSS_RESEND, true);
                    Session.sendToTarget(copy, sessionOf(compId));
                }
                return "OK " + again.size();
            }
            case "count": {
                long[] c = a.length > 1 ? counts.getOrDefault(a[1], new long[4]) : allCounts;
                synchronized (allCounts) {
                    return "OK " + c[2] + " " + c[3];
                }
            }
            case "book": {
                StringBuilder b = new StringBuilder("OK");
                synchronized (this) {
                    for (Order o : orders.values()) {
                        if (a.length > 1 && !o.compId.equals(a[1])) continue;
                        b.append(' ').append(o.clOrdId).append(':').append(o.orderId).append(':').append(o.status)
                                .append(':').append(o.cumQty.toPlainString()).append(':').append(o.leaves().toPlainString());
                    }
                }
                return b.toString();
            }
            default: return "ERR unknown command " + a[0];
        }
    }

    private Order find(String clOrdId) {
        Order found = null;
        for (Order o : orders.values()) if (o.clOrdIds.contains(clOrdId)) found = o;
        return found;
    }
}
