// test/drivers/PgjdbcTest.java: lemlist_fdw through pgjdbc, the JDBC driver
// of DBeaver, Metabase, Tableau's and most Java BI tools
//
// What they send: the metadata calls a SQL GUI makes when it opens a schema
// (none may ask lemlist anything), a table's preview read with a fetch size,
// statements prepared on the server past pgjdbc's prepareThreshold (5), then
// PostgreSQL's generic plan, setArray for "= ANY(?)", setObject with an
// OffsetDateTime, setDate.  Each case runs the driver's form, then the same
// query with its values written as literals, and checks that both return
// the same rows and send the same requests to the mock, and how many.
//
// Run by test/drivers/drivers.sh, in test/drivers: java -Duser.timezone=UTC
// -cp postgresql.jar PgjdbcTest.java, with PGHOST (a TCP address), PGPORT,
// PGDATABASE, PGUSER and LEMLIST_MOCK_URL in the environment; prints one
// "ok N - what" or "not ok N - what" line per check, exits 1 when one failed.

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.sql.Array;
import java.sql.Connection;
import java.sql.DatabaseMetaData;
import java.sql.Date;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.ResultSetMetaData;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;

public class PgjdbcTest
{
    static final String DRIVERLIB = "driverlib.py";    // run in test/drivers
    static int count = 0;
    static int failed = 0;

    static void ok(boolean passed, String what, String detail)
    {
        count++;
        System.out.println((passed ? "ok " : "not ok ") + count + " - " + what);
        if (!passed)
        {
            failed++;
            for (String line : detail.split("\n"))
                System.out.println("#   " + (line.length() <= 200 ? line : line.substring(0, 200) + "..."));
        }
    }

    // the mock, through driverlib.py (see there)
    static List<String> driverlib(String command) throws Exception
    {
        Process p = new ProcessBuilder("/usr/bin/python3", DRIVERLIB, command)
            .redirectErrorStream(true).start();
        List<String> lines;
        try (BufferedReader r = new BufferedReader(
                 new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8)))
        {
            lines = r.lines().collect(Collectors.toList());
        }
        if (p.waitFor() != 0)
            throw new RuntimeException("driverlib.py " + command + ": " + lines);
        return lines;
    }

    static void freshMock() throws Exception
    {
        driverlib("fresh");
    }

    static List<String> mockRequests() throws Exception
    {
        return driverlib("requests");
    }

    // every column of every row, as text
    static List<String> rowsOf(ResultSet rs, int max) throws SQLException
    {
        List<String> rows = new ArrayList<>();
        int n = rs.getMetaData().getColumnCount();
        while ((max < 0 || rows.size() < max) && rs.next())
        {
            StringBuilder b = new StringBuilder();
            for (int i = 1; i <= n; i++)
                b.append(i > 1 ? "|" : "").append(rs.getString(i));
            rows.add(b.toString());
        }
        return rows;
    }

    static String firstDifference(List<String> got, List<String> want)
    {
        for (int i = 0; i < Math.min(got.size(), want.size()); i++)
            if (!got.get(i).equals(want.get(i)))
                return "row " + (i + 1) + ": " + got.get(i) + ", where the literal query gives " + want.get(i);
        return got.size() + " rows, where the literal query gives " + want.size();
    }

    // rows and requests of the driver's form against those of literalSql
    static void compare(Connection c, String what, List<String> rows, List<String> requests,
                        String literalSql, int wantRows, int wantRequests) throws Exception
    {
        freshMock();
        List<String> litRows;
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery(literalSql))
        {
            litRows = rowsOf(rs, -1);
        }
        List<String> litRequests = mockRequests();
        ok(rows.size() == wantRows, what + ": " + wantRows + " rows", "got " + rows.size());
        ok(rows.equals(litRows), what + ": the rows of the literal query", firstDifference(rows, litRows));
        ok(requests.size() == wantRequests, what + ": " + wantRequests + " requests",
           "got " + requests.size() + ":\n" + String.join("\n", requests));
        ok(requests.equals(litRequests), what + ": the requests of the literal query",
           "driver:\n" + String.join("\n", requests) + "\nliteral:\n" + String.join("\n", litRequests));
    }

    static String withoutEndDate(String row)
    {
        String[] f = row.split("\\|", -1);
        f[2] = "";
        return String.join("|", f);
    }

    static String id(int n)
    {
        return String.format("cam_%05d", n);
    }

    // a GUI opening the schema: tables, columns, keys, a statement's columns
    static void metadata(Connection c) throws Exception
    {
        freshMock();
        DatabaseMetaData md = c.getMetaData();
        List<String> tables = new ArrayList<>();
        try (ResultSet rs = md.getTables(null, "lemlist", "%", null))
        {
            while (rs.next())
                tables.add(rs.getString("TABLE_NAME") + " " + rs.getString("TABLE_TYPE"));
        }
        ok(tables.equals(List.of("campaign_stats FOREIGN TABLE", "campaign_step_stats FOREIGN TABLE",
                                 "campaigns FOREIGN TABLE")),
           "getTables lists the three foreign tables", tables.toString());
        List<String> columns = new ArrayList<>();
        try (ResultSet rs = md.getColumns(null, "lemlist", "campaign_stats", "%"))
        {
            while (rs.next())
                columns.add(rs.getString("COLUMN_NAME") + " " + rs.getString("TYPE_NAME"));
        }
        ok(columns.size() == 25 && columns.get(0).equals("campaign_id text") &&
           columns.get(1).equals("start_date timestamptz") && columns.contains("nb_leads int4"),
           "getColumns of campaign_stats", columns.toString());
        int keys = 0;
        try (ResultSet rs = md.getPrimaryKeys(null, "lemlist", "campaign_stats"))
        {
            while (rs.next())
                keys++;
        }
        try (ResultSet rs = md.getImportedKeys(null, "lemlist", "campaign_stats"))
        {
            while (rs.next())
                keys++;
        }
        try (ResultSet rs = md.getIndexInfo(null, "lemlist", "campaign_stats", false, true))
        {
            while (rs.next())
                keys++;
        }
        ok(keys == 0, "getPrimaryKeys, getImportedKeys, getIndexInfo: none", keys + " rows");
        try (PreparedStatement ps = c.prepareStatement("SELECT * FROM lemlist.campaign_step_stats"))
        {
            ResultSetMetaData rmd = ps.getMetaData();
            ok(rmd.getColumnCount() == 21 && rmd.getColumnName(7).equals("step_index"),
               "a statement's columns, described without running it",
               rmd.getColumnCount() + " columns");
        }
        try (Statement s = c.createStatement())
        {
            int n = rowsOf(s.executeQuery("SELECT * FROM lemlist.campaign_stats WHERE 1 = 0"), -1).size()
                + rowsOf(s.executeQuery("SELECT * FROM lemlist.campaigns LIMIT 0"), -1).size();
            ok(n == 0, "WHERE 1 = 0 and LIMIT 0: no rows", n + " rows");
        }
        List<String> requests = mockRequests();
        ok(requests.isEmpty(), "the metadata calls asked lemlist nothing", String.join("\n", requests));
    }

    // a table's preview and a list read with a fetch size, through a cursor
    static void fetchSize(Connection c) throws Exception
    {
        c.setAutoCommit(false);
        String newest = "SELECT campaign_id, name, created_at FROM lemlist.campaigns ORDER BY created_at DESC";
        freshMock();
        List<String> rows;
        List<String> firstRequests;
        try (Statement s = c.createStatement())
        {
            s.setFetchSize(100);
            try (ResultSet rs = s.executeQuery(newest))
            {
                rows = rowsOf(rs, 100);
                firstRequests = mockRequests();
                rows.addAll(rowsOf(rs, -1));
            }
        }
        c.commit();
        ok(rows.size() >= 100 && firstRequests.size() == 1,
           "fetch size 100: the first 100 rows cost one page", String.join("\n", firstRequests));
        // the list's pages, and the empty one that ends it
        compare(c, "fetch size 100, read to the end", rows, mockRequests(), newest, 1500, 16);

        // DBeaver's preview of a table: LIMIT 200, fetch size 200.  Two pages
        // and two batches give 199 rows (cam_00013, archived, has no
        // statistics), so the scan asks for more: two more of each.  Which
        // 200 rows come first is up to the batches' answers: each is checked
        // against its campaign's row from a literal query.
        String preview = "SELECT * FROM lemlist.campaign_stats LIMIT 200";
        freshMock();
        try (Statement s = c.createStatement())
        {
            s.setFetchSize(200);
            rows = rowsOf(s.executeQuery(preview), -1);
        }
        c.commit();
        List<String> requests = mockRequests();
        freshMock();
        try (Statement s = c.createStatement())
        {
            rowsOf(s.executeQuery(preview), -1);
        }
        c.commit();
        List<String> litRequests = mockRequests();
        ok(rows.size() == 200 && requests.size() == 8 && requests.equals(litRequests),
           "a preview of 200 rows: 4 pages and 4 batches, as the literal query's",
           rows.size() + " rows, requests:\n" + String.join("\n", requests)
           + "\nliteral:\n" + String.join("\n", litRequests));
        // the rows but their end_date (the statement's start, as no end_date is given)
        List<String> ids = rows.stream().map(r -> r.split("\\|")[0]).sorted().collect(Collectors.toList());
        List<String> got = rows.stream().map(PgjdbcTest::withoutEndDate).sorted().collect(Collectors.toList());
        List<String> want;
        try (Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT * FROM lemlist.campaign_stats WHERE campaign_id IN ("
                                           + ids.stream().map(i -> "'" + i + "'").collect(Collectors.joining(", "))
                                           + ")"))
        {
            want = rowsOf(rs, -1).stream().map(PgjdbcTest::withoutEndDate).sorted().collect(Collectors.toList());
        }
        c.commit();
        ok(ids.stream().distinct().count() == 200 && got.equals(want),
           "a preview of 200 rows: 200 campaigns, each its own row", firstDifference(got, want));
        c.setAutoCommit(true);
    }

    // the same statement run 9 times: prepared on the server from the 5th,
    // the last two under a generic plan
    static void preparedStatements(Connection c) throws Exception
    {
        String sql = "SELECT campaign_id, nb_leads, opened, replied FROM lemlist.campaign_stats"
            + " WHERE campaign_id = ? AND start_date >= ? AND end_date <= ?";
        try (PreparedStatement ps = c.prepareStatement(sql))
        {
            for (int i = 1; i <= 9; i++)
            {
                if (i == 8)
                    c.createStatement().execute("SET plan_cache_mode = force_generic_plan");
                OffsetDateTime start = OffsetDateTime.of(2025, 1, 1, 2, 0, 0, 0, ZoneOffset.ofHours(2));
                OffsetDateTime end = OffsetDateTime.of(2025, 6, 1, 0, 0, 0, 0, ZoneOffset.UTC);
                ps.setString(1, id(60 + i));
                ps.setObject(2, start);
                ps.setObject(3, end);
                freshMock();
                List<String> rows;
                try (ResultSet rs = ps.executeQuery())
                {
                    rows = rowsOf(rs, -1);
                }
                List<String> requests = mockRequests();
                freshMock();
                List<String> lit;
                try (Statement s = c.createStatement();
                     ResultSet rs = s.executeQuery(
                         "SELECT campaign_id, nb_leads, opened, replied FROM lemlist.campaign_stats"
                         + " WHERE campaign_id = '" + id(60 + i) + "' AND start_date >= '2025-01-01 00:00+00'"
                         + " AND end_date <= '2025-06-01 00:00+00'"))
                {
                    lit = rowsOf(rs, -1);
                }
                List<String> litRequests = mockRequests();
                ok(rows.size() == 1 && rows.equals(lit) && requests.size() == 1 && requests.equals(litRequests),
                   "execution " + i + " of a prepared statement (" + (i < 5 ? "unnamed" : "server-prepared")
                   + ", " + (i < 8 ? "custom" : "generic") + " plan): its campaign, one request",
                   "rows " + rows + "\nliteral " + lit + "\nrequests " + requests + "\nliteral " + litRequests);
            }
        }
        try (Statement s = c.createStatement();
             ResultSet rs = s.executeQuery(
                 "SELECT count(*), max(to_jsonb(p) ->> 'generic_plans') FROM pg_prepared_statements AS p"
                 + " WHERE statement LIKE '%lemlist.campaign_stats%'"))
        {
            rs.next();
            ok(rs.getInt(1) == 1 && (rs.getString(2) == null || rs.getString(2).equals("2")),
               "pgjdbc prepared it on the server; its last two executions ran a generic plan",
               rs.getInt(1) + " prepared, generic_plans " + rs.getString(2));
            s.execute("RESET plan_cache_mode");
        }
    }

    // "= ANY(?)" bound with setArray: 130 IDs (and duplicates) in 2 batches
    static void setArray(Connection c) throws Exception
    {
        List<String> ids = new ArrayList<>();
        for (int i = 500; i < 630; i++)
            ids.add(id(i));
        ids.add(id(501));
        ids.add(id(629));
        String sql = "SELECT campaign_id, nb_leads, delivered FROM lemlist.campaign_stats"
            + " WHERE campaign_id = ANY(?) AND start_date >= ? ORDER BY campaign_id";
        List<String> rows;
        freshMock();
        try (PreparedStatement ps = c.prepareStatement(sql))
        {
            Array array = c.createArrayOf("text", ids.toArray());
            ps.setArray(1, array);
            ps.setObject(2, OffsetDateTime.of(2025, 3, 1, 0, 0, 0, 0, ZoneOffset.UTC));
            try (ResultSet rs = ps.executeQuery())
            {
                rows = rowsOf(rs, -1);
            }
        }
        String literal = "SELECT campaign_id, nb_leads, delivered FROM lemlist.campaign_stats WHERE campaign_id IN ("
            + ids.stream().map(i -> "'" + i + "'").collect(Collectors.joining(", "))
            + ") AND start_date >= '2025-03-01 00:00+00' ORDER BY campaign_id";
        compare(c, "setArray for = ANY(?)", rows, mockRequests(), literal, 130, 2);
    }

    // setDate: a java.sql.Date, bound without a type; the server takes it
    // for the column's timestamptz
    static void setDate(Connection c) throws Exception
    {
        String sql = "SELECT campaign_id, start_date, end_date, nb_leads FROM lemlist.campaign_stats"
            + " WHERE campaign_id = ? AND start_date >= ? AND end_date < ?";
        List<String> rows;
        freshMock();
        try (PreparedStatement ps = c.prepareStatement(sql))
        {
            ps.setString(1, id(7));
            ps.setDate(2, Date.valueOf("2025-02-01"));
            ps.setDate(3, Date.valueOf("2025-04-01"));
            try (ResultSet rs = ps.executeQuery())
            {
                rows = rowsOf(rs, -1);
            }
        }
        compare(c, "setDate", rows, mockRequests(),
                "SELECT campaign_id, start_date, end_date, nb_leads FROM lemlist.campaign_stats"
                + " WHERE campaign_id = 'cam_00007' AND start_date >= '2025-02-01' AND end_date < '2025-04-01'",
                1, 1);
    }

    public static void main(String[] args) throws Exception
    {
        String url = "jdbc:postgresql://" + System.getenv("PGHOST") + ":" + System.getenv("PGPORT")
            + "/" + System.getenv("PGDATABASE");
        try (Connection c = DriverManager.getConnection(url, System.getenv("PGUSER"), ""))
        {
            try (Statement s = c.createStatement())
            {
                s.execute("SET TimeZone = 'UTC'");
            }
            metadata(c);
            fetchSize(c);
            preparedStatements(c);
            setArray(c);
            setDate(c);
        }
        catch (Exception e)
        {
            ok(false, "no exception", e.toString());
        }
        System.out.println("# " + count + " checks, " + failed + " failed");
        System.exit(failed == 0 ? 0 : 1);
    }
}
