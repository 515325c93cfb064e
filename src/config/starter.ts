// The commented starter config `cosell init` writes. It must load as written (a test checks it), so values
// an admin has to supply are `<placeholders>` that `cosell start` refuses with the path to fill in.
import { DEFAULT_STORE_URL, DEFAULT_WEBHOOK_PATH, MICROSOFT_CERTIFICATE_HOST, SECRET_ENV } from './schema.ts';

const SALESFORCE_SECTION = `crm:
  kind: salesforce          # salesforce | dynamics (\`cosell init --crm dynamics\` writes the Dynamics 365 example)
  salesforce:
    connection:
      loginUrl: https://login.salesforce.com   # or https://test.salesforce.com, or your My Domain URL
      # apiVersion: "66.0"
      auth:
        # JWT bearer (recommended): the External Client App's consumer key and the pre-authorised
        # integration user; the private key comes from ${SECRET_ENV.salesforcePrivateKey} (or privateKeyPath: file.key).
        grant: jwt-bearer
        clientId: <your-external-client-app-consumer-key>
        username: <integration-user@example.com>
        # Client credentials instead: grant: client-credentials, clientId, and ${SECRET_ENV.salesforceClientSecret}.
    settings:
      # Field API names (not labels) and flags from the connector's "environment variables" (R21).
      fields:
        dealValue: Amount
        accountCountry: BillingCountryCode   # falls back to BillingCountry (names translated) without country picklists
        # accountDuns: DunsNumber            # match accounts by D-U-N-S before name + postal code
      stages:
        active: Qualification
        won: Closed Won
        lost: Closed Lost
`;

const DYNAMICS_SECTION = `crm:
  kind: dynamics            # salesforce | dynamics
  dynamics:
    connection:
      # The environment URL (Power Platform admin center > Environments > <env> > Environment URL).
      url: https://your-org.crm.dynamics.com   # replace your-org
      # The Entra tenant of the environment, and the app registration cosell signs in as. Add it to the
      # environment as an application user with the System Customizer (or System Administrator) role (R28).
      tenantId: <your-entra-tenant-id>
      auth:
        # A client secret from ${SECRET_ENV.dynamicsClientSecret}, or a certificate (recommended for production):
        #   grant: certificate, clientId, certificatePath: app.crt, and the private key from
        #   ${SECRET_ENV.dynamicsPrivateKey} (the PEM or a path to it).
        grant: client-secret
        clientId: <your-app-registration-client-id>
      # maxConcurrency: 8        # Dataverse throttles above 52 concurrent requests per user
    settings:
      # Publisher prefix of the imported cosell solution (packaging/dynamics): columns are <prefix>_referralidentifier…
      prefix: cosell
      # These follow the solution's environment variables (current value over default value) unless set here:
      # dealValueField: estimatedvalue            # "Deal value field name"
      # accountCountryField: address1_country     # "Customer account country code field name"
      # countryFormat: code                       # what cosell writes there: code (US) or name (United States)
      # accountCountryLookup: { navigation: new_CountryId, entitySet: new_countries, codeColumn: new_isocode }
      # accountDunsField: new_duns                # match accounts by D-U-N-S before name + postal code
`;

function starter(crmSection: string, secrets: string): string {
  return `# cosell configuration (YAML; a .json file with the same keys works too).
# Sign in once:  npx cosell login --config <this file>     Run it:  npx cosell start --config <this file>
#
# Secrets are NEVER written here; cosell refuses a config file that holds one. Set them in the environment:
#   ${SECRET_ENV.tokenKey}         encrypts the Partner Center token cache in the store: openssl rand -base64 32
${secrets}
#   ${SECRET_ENV.storeUrl}        optional: overrides store.url (use it for a database URL with a password)
#
# Values in <angle brackets> must be replaced before \`cosell start\` will run.
# Relative paths are relative to this file.

# The partner tenant this deployment serves; every stored row carries it.
tenantId: default

store:
  # SQLite file (created on first start). Back it up: it holds links, snapshots, run history and the
  # encrypted Partner Center token cache.
  url: ${DEFAULT_STORE_URL}

partnerCenter:
  # Your Entra tenant id, and the app you registered for cosell (public client, delegated permission
  # "Microsoft Partner / user_impersonation"; see README "Going live").
  tenantId: <your-entra-tenant-id>
  clientId: <your-entra-app-client-id>
  # referralsUrl, webhooksUrl and authorityHost default to Microsoft's; set them only to use an emulator.
  webhook:
    # The public HTTPS URL Partner Center posts events to: your reverse proxy in front of
    # server.host:server.port + server.webhookPath. \`cosell webhooks register --config <this file>\` registers it.
    # publicUrl: https://cosell.example.com${DEFAULT_WEBHOOK_PATH}
    # Exact hosts the webhook signing certificate may be downloaded from over https: \`host\` means port 443 only,
    # \`host:port\` that port only; no wildcards, and IP addresses only as written plainly (127.0.0.1, not 127.1).
    allowedCertificateHosts:
      - ${MICROSOFT_CERTIFICATE_HOST}
    # PEM file(s) of the root certificate Partner Center's signing certificate must chain to. cosell does not
    # bundle one: use the root your security team trusts for Microsoft. To see which root that is, send a test
    # event (\`cosell webhooks test\`), download the certificate named in its x-ms-certificate-url header and run
    #   openssl x509 -inform der -in pcnotifications-dispatch.microsoft.com.cer -noout -issuer
    # then fetch that issuer's root from Microsoft's PKI repository (https://www.microsoft.com/pkiops/docs/repository.htm)
    # and convert it to PEM:  openssl x509 -inform der -in root.crt -out microsoft-root.pem
    # \`cosell start\` refuses to run until at least one is listed: an unverifiable webhook is never accepted.
    trustAnchors: []
    #  - certs/microsoft-root.pem

${crmSection}
# How the sync behaves; every key is optional (worker, retry, crmPoll, reconcile: see src/engine/settings.ts).
engine:
  dryRun: false              # true: compute and log what would change, write nothing (same as start --dry-run)
  # Set these to override the CRM's own setting (Dynamics 365: the solution's environment variables):
  displayCheckMark: true     # ✔ / ✖ at the end of opportunity names
  syncCoSellOnly: false      # "Sync co-sell opportunities only": true = Partner Center leads are not created in the CRM
  # defaultOwnerId: <CRM user id>  # owner of a referral from Microsoft when no CRM user has its partner team member's e-mail
  # expiry:                  # unanswered referrals from Microsoft expire after 14 days
  #   warnBeforeMs: 259200000        # audit line on the record 3 days before
  #   notifyUrl: https://…           # and a JSON POST here (a Teams/Slack workflow), if set
  # budgets:                 # daily API allowances of your own; used up = paused until midnight UTC, nothing dropped
  #   partnerCenterPerDay: 10000
  #   crmPerDay: 5000
  # mapping:                 # the field mapping, per deployment (R22)
  #   fields:                # direction: both | toCrm | toReferral; owner (wins a conflict): crm | partnerCenter
  #     notes: { direction: toCrm }
  #     dealValue: { owner: partnerCenter }
  #   createDefaults:        # fields your CRM requires on new records (API / logical names) and their values
  #     opportunity: { NextStep: Call the Microsoft seller }
  #     lead: {}

server:
  host: 127.0.0.1            # 0.0.0.0 to accept connections from other machines
  port: 3000
  webhookPath: ${DEFAULT_WEBHOOK_PATH}

log:
  level: info                # fatal | error | warn | info | debug | trace
`;
}

export type StarterCrm = 'salesforce' | 'dynamics';

/** The commented starter for one CRM. */
export function starterConfig(crm: StarterCrm = 'salesforce'): string {
  if (crm === 'dynamics') {
    // Left commented: Dynamics 365 admins set these in the solution's environment variables.
    return starter(
      DYNAMICS_SECTION,
      `#   ${SECRET_ENV.dynamicsClientSecret}  Dynamics 365 client secret of the app registration
#   ${SECRET_ENV.dynamicsPrivateKey}    Dynamics 365 certificate auth: path to the PEM private key (or the PEM itself)`,
    )
      .replace('\n  displayCheckMark: true', '\n  # displayCheckMark: true')
      .replace('\n  syncCoSellOnly: false', '\n  # syncCoSellOnly: false');
  }
  return starter(
    SALESFORCE_SECTION,
    `#   ${SECRET_ENV.salesforcePrivateKey}    Salesforce JWT bearer grant: path to the PEM private key (or the PEM itself)
#   ${SECRET_ENV.salesforceClientSecret}  Salesforce client credentials grant: the External Client App's secret`,
  );
}

export const STARTER_CONFIG = starterConfig('salesforce');
