// Package ejbca stands in for github.com/Keyfactor/ejbca-go-client-sdk/api/ejbca in the SPIRE build
// of spiffe-sdk's interop tests. The Go module proxy available to this project refuses to serve that
// module, and SPIRE's server imports it only for its EJBCA UpstreamAuthority plugin, which the
// interop tests never configure. This package declares exactly the API that plugin uses; every
// operation fails with ErrUnavailable, so a configuration that selects the plugin fails loudly
// instead of silently doing something else.
package ejbca

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net/http"
)

// ErrUnavailable is returned by every operation of this package.
var ErrUnavailable = errors.New("the EJBCA client is not available in this interop build of SPIRE (see spiffe-sdk docs/interop.md)")

// Authenticator is the plugin's handle on a configured authenticator; none can be built here.
type Authenticator interface {
	unavailable()
}

// MTLSAuthenticatorBuilder accepts the plugin's settings; Build always fails.
type MTLSAuthenticatorBuilder struct{}

// NewMTLSAuthenticatorBuilder returns a builder whose Build fails.
func NewMTLSAuthenticatorBuilder() *MTLSAuthenticatorBuilder { return &MTLSAuthenticatorBuilder{} }

// WithClientCertificate ignores the certificate.
func (b *MTLSAuthenticatorBuilder) WithClientCertificate(*tls.Certificate) *MTLSAuthenticatorBuilder {
	return b
}

// WithCaCertificates ignores the certificates.
func (b *MTLSAuthenticatorBuilder) WithCaCertificates([]*x509.Certificate) *MTLSAuthenticatorBuilder {
	return b
}

// Build fails with ErrUnavailable.
func (b *MTLSAuthenticatorBuilder) Build() (Authenticator, error) { return nil, ErrUnavailable }

// Configuration holds the settings the plugin sets.
type Configuration struct {
	Host string
}

// NewConfiguration returns an empty configuration.
func NewConfiguration() *Configuration { return &Configuration{} }

// SetAuthenticator ignores the authenticator.
func (c *Configuration) SetAuthenticator(Authenticator) {}

// APIClient exposes the one API group the plugin calls.
type APIClient struct {
	V1CertificateApi *V1CertificateApiService
}

// NewAPIClient fails with ErrUnavailable.
func NewAPIClient(*Configuration) (*APIClient, error) { return nil, ErrUnavailable }

// V1CertificateApiService is the certificate enrollment API.
type V1CertificateApiService struct{}

// EnrollPkcs10Certificate returns a request whose Execute fails.
func (s *V1CertificateApiService) EnrollPkcs10Certificate(context.Context) ApiEnrollPkcs10CertificateRequest {
	return ApiEnrollPkcs10CertificateRequest{}
}

// ApiEnrollPkcs10CertificateRequest is an enrollment request.
type ApiEnrollPkcs10CertificateRequest struct{}

// EnrollCertificateRestRequest ignores the request body.
func (r ApiEnrollPkcs10CertificateRequest) EnrollCertificateRestRequest(EnrollCertificateRestRequest) ApiEnrollPkcs10CertificateRequest {
	return r
}

// Execute fails with ErrUnavailable.
func (r ApiEnrollPkcs10CertificateRequest) Execute() (*CertificateRestResponse, *http.Response, error) {
	return nil, nil, ErrUnavailable
}

// EnrollCertificateRestRequest is the enrollment request body.
type EnrollCertificateRestRequest struct{}

// NewEnrollCertificateRestRequest returns an empty request body.
func NewEnrollCertificateRestRequest() *EnrollCertificateRestRequest {
	return &EnrollCertificateRestRequest{}
}

// The setters ignore their input: no request is ever sent.

func (r *EnrollCertificateRestRequest) SetUsername(string)                 {}
func (r *EnrollCertificateRestRequest) SetPassword(string)                 {}
func (r *EnrollCertificateRestRequest) SetCertificateRequest(string)       {}
func (r *EnrollCertificateRestRequest) SetCertificateAuthorityName(string) {}
func (r *EnrollCertificateRestRequest) SetCertificateProfileName(string)   {}
func (r *EnrollCertificateRestRequest) SetEndEntityProfileName(string)     {}
func (r *EnrollCertificateRestRequest) SetIncludeChain(bool)               {}
func (r *EnrollCertificateRestRequest) SetAccountBindingId(string)         {}

// CertificateRestResponse is an enrollment response; none is ever produced here.
type CertificateRestResponse struct {
	CertificateChain []string
}

// GetResponseFormat returns "".
func (r *CertificateRestResponse) GetResponseFormat() string { return "" }

// GetCertificate returns "".
func (r *CertificateRestResponse) GetCertificate() string { return "" }

// GenericOpenAPIError is the error type the plugin unwraps; this package never returns one.
type GenericOpenAPIError struct{}

func (e *GenericOpenAPIError) Error() string { return ErrUnavailable.Error() }

// Body returns nil.
func (e *GenericOpenAPIError) Body() []byte { return nil }
