package secrets

import "sort"

// Class groups finding types for configuration: the processor chooses an
// action per class, and Options can switch classes off.
type Class string

// The classes. ClassSecret covers every credential type; the others are PII.
const (
	ClassSecret      Class = "secret"
	ClassEmail       Class = "email"
	ClassPaymentCard Class = "payment_card"
	ClassIBAN        Class = "iban"
	ClassUSSSN       Class = "us_ssn"
	ClassPhone       Class = "phone"
)

// Classes returns every class, secrets first.
func Classes() []Class {
	return []Class{ClassSecret, ClassEmail, ClassPaymentCard, ClassIBAN, ClassUSSSN, ClassPhone}
}

// Kind says how a type is recognised.
type Kind string

// The kinds of detection.
const (
	KindFormat  Kind = "format"  // a known token format: prefix, charset, length, checksum
	KindContext Kind = "context" // a value recognised by what surrounds it (key name, header, URL, flag)
	KindPII     Kind = "pii"     // personal data
)

// TypeInfo describes one finding type.
type TypeInfo struct {
	ID          string // stable id, reported in Finding.Type and in metrics
	Class       Class
	Kind        Kind
	Description string
}

// priorities decide the Type of a merged finding when candidates overlap:
// the highest wins. Known formats beat context, context beats the generic
// key-name and entropy rules.
const (
	prioEntropy = 1
	prioPII     = 2
	prioKeyName = 3
	prioContext = 4
	prioFormat  = 5
)

type typeDef struct {
	TypeInfo
	prio int
}

var typeDefs []typeDef
var typeIndex = map[string]int{}

// defType registers a type and returns its id, for use in rule tables.
func defType(id string, class Class, kind Kind, prio int, desc string) string {
	if _, dup := typeIndex[id]; dup {
		panic("secrets: duplicate type id " + id)
	}
	typeIndex[id] = len(typeDefs)
	typeDefs = append(typeDefs, typeDef{TypeInfo{id, class, kind, desc}, prio})
	return id
}

func secretFormat(id, desc string) string {
	return defType(id, ClassSecret, KindFormat, prioFormat, desc)
}

// Types returns every finding type the detector can report, sorted by id.
func Types() []TypeInfo {
	out := make([]TypeInfo, len(typeDefs))
	for i, t := range typeDefs {
		out[i] = t.TypeInfo
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// TypeClass returns the class of a type id ("" for an unknown id).
func TypeClass(id string) Class {
	if i, ok := typeIndex[id]; ok {
		return typeDefs[i].Class
	}
	return ""
}

// Context and PII types. Format types are registered in tokens.go.
var (
	tPasswordAssignment = defType("password_assignment", ClassSecret, KindContext, prioKeyName,
		"value assigned to a key naming a password (password, passwd, pwd, passphrase, *pass) in env, JSON, YAML, INI, XML, flags, query strings")
	tSecretAssignment = defType("secret_assignment", ClassSecret, KindContext, prioKeyName,
		"value assigned to a key naming a secret (secret, api_key, access_token, private_key, credentials, ...)")
	tHighEntropyAssignment = defType("high_entropy_assignment", ClassSecret, KindContext, prioEntropy,
		"random-looking value assigned to a key that may name a secret (token, auth, <other>_key, x-amz-signature)")
	tDBPassword = defType("db_connection_password", ClassSecret, KindContext, prioContext,
		"password in a database connection string: URL userinfo (postgres://, mysql://, mongodb+srv://, redis://, ...), JDBC or ADO.NET Password=")
	tURLPassword = defType("url_password", ClassSecret, KindContext, prioContext,
		"password part of URL userinfo (scheme://user:PASSWORD@host)")
	tURLToken = defType("url_token", ClassSecret, KindContext, prioContext,
		"credential-looking userinfo without a password (https://TOKEN@host)")
	tAuthBearer = defType("http_auth_bearer", ClassSecret, KindContext, prioContext,
		"credential of an Authorization: Bearer header (also JSON headers, curl -H, standalone 'Bearer <token>')")
	tAuthBasic = defType("http_auth_basic", ClassSecret, KindContext, prioContext,
		"credential of an Authorization: Basic header")
	tAuthOther = defType("http_auth_token", ClassSecret, KindContext, prioContext,
		"credential of an Authorization header with another scheme (token, Token, ApiKey, raw value)")
	tCLIPassword = defType("cli_password", ClassSecret, KindContext, prioContext,
		"password given to a command line tool: mysql -pX, sshpass -p, redis-cli -a, sqlcmd -P, ldapsearch -w, mongo -p, docker/podman/helm login -p, az login -p, curl -u user:X, smbclient -U user%X, openssl pass:X, sqlplus user/X, ssh-keygen -N/-P")
	tAWSSecretKey = defType("aws_secret_access_key", ClassSecret, KindContext, prioFormat,
		"AWS secret access key: 40 base64 characters next to an AWS keyword or an access key id")
	tAzureStorageKey = defType("azure_storage_account_key", ClassSecret, KindContext, prioFormat,
		"Azure storage / Cosmos DB account key (AccountKey=<88 base64>)")
	tAzureSharedAccessKey = defType("azure_shared_access_key", ClassSecret, KindContext, prioFormat,
		"Azure Service Bus / Event Hubs / IoT SharedAccessKey=<44 base64>")
	tAzureSAS = defType("azure_sas_token", ClassSecret, KindContext, prioFormat,
		"signature of an Azure shared access signature URL (sig= next to sv=)")
	tVaultLegacy = defType("vault_legacy_token", ClassSecret, KindContext, prioFormat,
		"HashiCorp Vault token of the pre-1.10 format (s.<24>, b.<24>) next to a vault keyword")

	tEmail = defType("pii_email", ClassEmail, KindPII, prioPII, "e-mail address")
	tCard  = defType("pii_payment_card", ClassPaymentCard, KindPII, prioPII,
		"payment card number: 13-19 digits, known IIN range, Luhn check, plain or grouped by spaces or dashes")
	tIBAN = defType("pii_iban", ClassIBAN, KindPII, prioPII,
		"IBAN: country code, check digits (mod 97), the country's length, compact or in groups of 4")
	tSSN = defType("pii_us_ssn", ClassUSSSN, KindPII, prioPII,
		"US social security number AAA-GG-SSSS (dashes required; 000, 666, 9xx areas, 00 group, 0000 serial excluded)")
	tPhone = defType("pii_phone", ClassPhone, KindPII, prioPII,
		"phone number: +CC international (8-15 digits) or NANP (NXX) NXX-XXXX / NXX-NXX-XXXX")
)
