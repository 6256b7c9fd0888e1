-- examples/00_crm.sql: a small CRM to join with lemlist's statistics
--
-- Accounts, and the deals opened with them; a deal carries the ID of the
-- lemlist campaign that prospects it (NULL when the deal came in another
-- way).  The IDs are campaigns of the mock lemlist API bundled in test/
-- (cam_00001 .. cam_00250), chosen among those active through June 2025.
-- Against a real lemlist team, put your own campaign IDs in
-- deals.lemlist_campaign_id (test/demo.sh does that for you).
--
-- Needs only PostgreSQL; the other examples also need the foreign tables of
-- "IMPORT FOREIGN SCHEMA lemlist FROM SERVER lemlist INTO lemlist".

CREATE SCHEMA crm;

CREATE TABLE crm.accounts (
    account_id  integer PRIMARY KEY,
    name        text NOT NULL UNIQUE,
    industry    text NOT NULL,
    owner       text NOT NULL
);

CREATE TABLE crm.deals (
    deal_id             integer PRIMARY KEY,
    account_id          integer NOT NULL REFERENCES crm.accounts,
    name                text NOT NULL,
    stage               text NOT NULL
                        CHECK (stage IN ('prospecting', 'qualified', 'proposal', 'won', 'lost')),
    amount              numeric(12, 2) NOT NULL,
    lemlist_campaign_id text            -- NULL: not prospected with lemlist
);
CREATE INDEX ON crm.deals (lemlist_campaign_id);

INSERT INTO crm.accounts VALUES
    (1, 'Acme Corp',       'SaaS',          'alice'),
    (2, 'Globex',          'Manufacturing', 'bob'),
    (3, 'Initech',         'Fintech',       'alice'),
    (4, 'Umbrella Health', 'Healthcare',    'carol'),
    (5, 'Stark Logistics', 'Logistics',     'bob'),
    (6, 'Wayne Retail',    'Retail',        'carol');

INSERT INTO crm.deals VALUES
    (101, 1, 'Acme - platform rollout',      'proposal',    48000, 'cam_00010'),
    (102, 1, 'Acme - support upsell',        'qualified',   12000, 'cam_00068'),
    (201, 2, 'Globex - plant pilot',         'won',         30000, 'cam_00037'),
    (202, 2, 'Globex - second site',         'prospecting', 25000, 'cam_00091'),
    (301, 3, 'Initech - payments API',       'proposal',    60000, 'cam_00118'),
    (302, 3, 'Initech - compliance add-on',  'lost',         8000, 'cam_00126'),
    (401, 4, 'Umbrella - clinics',           'qualified',   42000, 'cam_00172'),
    (402, 4, 'Umbrella - labs',              'prospecting', 18000, 'cam_00184'),
    (501, 5, 'Stark - fleet tracking',       'won',         55000, 'cam_00175'),
    (502, 5, 'Stark - warehouse',            'qualified',   20000, 'cam_00025'),
    (601, 6, 'Wayne - stores',               'proposal',    36000, 'cam_00234'),
    (602, 6, 'Wayne - e-shop',               'prospecting', 15000, 'cam_00070'),
    (603, 6, 'Wayne - inbound renewal',      'won',          9000, NULL);
